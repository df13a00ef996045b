package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/partition"
	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// partsJSON is the output of parts --json.
type partsJSON struct {
	Scheme     string `json:"scheme"`
	SectorSize int    `json:"sector_size"`
	DiskSize   int64  `json:"disk_size"`
	// BlockSize is the image's unit of allocation: VHDX block or qcow2
	// cluster size; 0 for raw images.
	BlockSize  int64           `json:"block_size"`
	BlockUnit  string          `json:"block_unit"` // "VHDX blocks", "qcow2 clusters" or ""
	Partitions []partJSON      `json:"partitions"`
	Findings   []vdisk.Finding `json:"findings"`
}

type partJSON struct {
	Number      int      `json:"number"`
	Start       int64    `json:"start"`
	Length      int64    `json:"length"`
	StartSector int64    `json:"start_sector"`
	Sectors     int64    `json:"sectors"`
	Type        string   `json:"type"`
	TypeName    string   `json:"type_name"`
	Name        string   `json:"name"`
	GUID        string   `json:"guid"`
	Attributes  []string `json:"attributes"`
	Bootable    bool     `json:"bootable"`
	Extended    bool     `json:"extended"`
	// Blocks are the first and last image blocks (or clusters) holding
	// the partition; nil for raw images.
	Blocks     []int64 `json:"blocks"`
	Filesystem *fsJSON `json:"filesystem"`
	// FilesystemError says why the partition could not be probed.
	FilesystemError string `json:"filesystem_error,omitempty"`
	// LVM describes an LVM2 physical volume's volume group.
	LVM *lvmJSON `json:"lvm,omitempty"`
}

type lvmJSON struct {
	PVUUID         string   `json:"pv_uuid"`
	VolumeGroup    string   `json:"volume_group"` // "" when no metadata copy is readable
	ExtentSize     int64    `json:"extent_size"`
	LogicalVolumes []lvJSON `json:"logical_volumes"`
}

type lvJSON struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Segments int    `json:"segments"`
	// Extents place the LV on the disk (offsets from the start of the disk).
	Extents    []lvExtentJSON `json:"extents"`
	Filesystem *fsJSON        `json:"filesystem"`
	Error      string         `json:"error,omitempty"` // why the LV cannot be read
}

type lvExtentJSON struct {
	LVOffset   int64 `json:"lv_offset"`
	Length     int64 `json:"length"`
	DiskOffset int64 `json:"disk_offset"`
	Stripe     int   `json:"stripe"`
	Stripes    int   `json:"stripes"`
}

type fsJSON struct {
	Type      string `json:"type"`
	Label     string `json:"label"`
	UUID      string `json:"uuid"`
	Size      int64  `json:"size"`
	BlockSize int64  `json:"block_size"`
	Used      int64  `json:"used"` // -1 when unknown
	Version   string `json:"version,omitempty"`
}

func defineParts(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error {
		return runParts(s, stdout, *asJSON, args)
	}
}

func runParts(s *session, stdout io.Writer, asJSON bool, args []string) error {
	defer s.close()
	img, disk, err := s.openImageDisk(args[0])
	if err != nil {
		return err
	}
	sector, block, unit := geometry(img)
	out, err := describeParts(disk, sector, block)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	out.BlockUnit = unit
	printParts(stdout, out)
	return nil
}

// geometry returns the logical sector size of an image's disk and its unit
// of allocation, with that unit's name (0 and "" for raw images).
func geometry(img *vdisk.Image) (sector int, block int64, unit string) {
	switch n := img.Native().(type) {
	case *vhdx.Image:
		if m := n.Metadata; m != nil {
			return int(m.LogicalSectorSize), int64(m.BlockSize), "VHDX blocks"
		}
	case *qcow2.Image:
		return 512, int64(n.Header.ClusterSize()), "qcow2 clusters"
	}
	return 512, 0, ""
}

// describeParts reads the partition table of disk and probes the
// filesystem of each partition.
func describeParts(disk *vdisk.Disk, sectorSize int, blockSize int64) (*partsJSON, error) {
	t, err := partition.Read(disk, disk.Size(), sectorSize)
	if err != nil {
		return nil, err
	}
	out := &partsJSON{Scheme: t.Scheme, SectorSize: t.SectorSize, DiskSize: t.DiskSize, BlockSize: blockSize,
		Partitions: []partJSON{}, Findings: t.Findings}
	for _, p := range t.Partitions {
		pj := partJSON{
			Number: p.Number, Start: p.Start, Length: p.Length, StartSector: p.StartSector, Sectors: p.Sectors,
			Type: p.Type, TypeName: p.TypeName, Name: p.Name, GUID: p.GUID, Attributes: p.AttributeNames,
			Bootable: p.Bootable, Extended: p.Extended,
		}
		if blockSize > 0 {
			pj.Blocks = []int64{p.Start / blockSize, (p.End() - 1) / blockSize}
		}
		if pj.Attributes == nil {
			pj.Attributes = []string{}
		}
		if !p.Extended {
			sec := t.Section(disk, p)
			if info, err := filesystem.Probe(sec, sec.Size()); err != nil {
				pj.FilesystemError = err.Error()
			} else if info.Type != "" {
				pj.Filesystem = fsOf(info)
				if info.Type == filesystem.TypeLVM2 {
					if pj.LVM, err = describeLVM(sec, p.Start, out); err != nil {
						return nil, err
					}
				}
			}
		}
		out.Partitions = append(out.Partitions, pj)
	}
	return out, nil
}

func fsOf(info *filesystem.Info) *fsJSON {
	return &fsJSON{info.Type, info.Label, info.UUID, info.Size, info.BlockSize, info.Used, info.Version}
}

// describeLVM reads the LVM2 physical volume pv, which starts at start on
// the disk, probes each logical volume it can read and adds its findings
// (at disk offsets) to out.
func describeLVM(pv *io.SectionReader, start int64, out *partsJSON) (*lvmJSON, error) {
	l, err := partition.ReadLVM(pv, pv.Size())
	if err != nil {
		return nil, err
	}
	for _, f := range l.Findings {
		if f.Offset >= 0 {
			f.Offset += start
		}
		out.Findings = append(out.Findings, f)
	}
	lj := &lvmJSON{PVUUID: l.PV.UUID, LogicalVolumes: []lvJSON{}}
	if l.VG == nil {
		return lj, nil
	}
	lj.VolumeGroup, lj.ExtentSize = l.VG.Name, l.VG.ExtentSize
	for _, lv := range l.VG.LogicalVolumes {
		v := lvJSON{Name: lv.Name, Size: lv.Size, Segments: len(lv.Segments), Extents: []lvExtentJSON{}}
		r, err := l.Open(pv, lv)
		if err != nil {
			v.Error = err.Error()
			lj.LogicalVolumes = append(lj.LogicalVolumes, v)
			continue
		}
		ext, _ := l.Extents(lv) // Open succeeded: so does Extents
		for _, e := range ext {
			v.Extents = append(v.Extents, lvExtentJSON{e.LVOffset, e.Length, start + e.PVOffset, e.Stripe, e.Stripes})
		}
		if info, err := filesystem.Probe(r, r.Size()); err != nil {
			v.Error = err.Error()
		} else if info.Type != "" {
			v.Filesystem = fsOf(info)
		}
		lj.LogicalVolumes = append(lj.LogicalVolumes, v)
	}
	return lj, nil
}

func printParts(w io.Writer, out *partsJSON) {
	fmt.Fprintf(w, "Scheme: %s, %d-byte sectors, disk %s", out.Scheme, out.SectorSize, size(uint64(out.DiskSize)))
	if out.BlockSize > 0 {
		fmt.Fprintf(w, ", %s of %s", out.BlockUnit, size(uint64(out.BlockSize)))
	}
	fmt.Fprintln(w)
	if len(out.Partitions) == 0 {
		fmt.Fprintln(w, "No partitions and no filesystem at offset 0.")
	}
	for _, p := range out.Partitions {
		fmt.Fprintf(w, "\nPartition %d: sectors %d-%d (%d sectors), offset %#x, %s\n",
			p.Number, p.StartSector, p.StartSector+p.Sectors-1, p.Sectors, p.Start, size(uint64(p.Length)))
		typ := p.TypeName
		if p.Type != "" {
			typ = fmt.Sprintf("%s (%s)", p.TypeName, p.Type)
		}
		fmt.Fprintf(w, "  type:       %s\n", typ)
		if p.Bootable {
			fmt.Fprintln(w, "  bootable:   yes")
		}
		if p.Name != "" {
			fmt.Fprintf(w, "  name:       %q\n", p.Name)
		}
		if p.GUID != "" {
			fmt.Fprintf(w, "  GUID:       %s\n", p.GUID)
		}
		if len(p.Attributes) > 0 {
			fmt.Fprintf(w, "  attributes: %s\n", strings.Join(p.Attributes, " "))
		}
		if p.Blocks != nil {
			if p.Blocks[0] == p.Blocks[1] {
				fmt.Fprintf(w, "  %s: %d\n", out.BlockUnit, p.Blocks[0])
			} else {
				fmt.Fprintf(w, "  %s: %d-%d\n", out.BlockUnit, p.Blocks[0], p.Blocks[1])
			}
		}
		switch {
		case p.FilesystemError != "":
			fmt.Fprintf(w, "  filesystem: unreadable: %s\n", escape(p.FilesystemError))
		case p.Filesystem != nil:
			printFS(w, "  ", p.Filesystem)
		case !p.Extended:
			fmt.Fprintln(w, "  filesystem: not recognised")
		}
		if l := p.LVM; l != nil {
			printLVM(w, l)
		}
	}
	if len(out.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		for _, f := range out.Findings {
			fmt.Fprintf(w, "  %-7s %s at %#x: %s [%s]\n", f.Severity, escape(f.Structure), f.Offset, escape(f.Message), f.Code)
		}
	}
}

// printFS prints a filesystem's facts on two lines.
func printFS(w io.Writer, indent string, fs *fsJSON) {
	fmt.Fprintf(w, "%sfilesystem: %s", indent, fs.Type)
	if fs.Version != "" {
		fmt.Fprintf(w, " %s", fs.Version)
	}
	fmt.Fprintf(w, ", label %q, UUID %s\n", fs.Label, fs.UUID)
	fmt.Fprintf(w, "%s            size %s, blocks of %d bytes", indent, size(uint64(fs.Size)), fs.BlockSize)
	if fs.Used >= 0 {
		fmt.Fprintf(w, ", used %s", size(uint64(fs.Used)))
	}
	fmt.Fprintln(w)
}

// printLVM prints a PV's volume group and its logical volumes.
func printLVM(w io.Writer, l *lvmJSON) {
	if l.VolumeGroup == "" {
		fmt.Fprintln(w, "  LVM:        no readable volume group metadata on this PV")
		return
	}
	fmt.Fprintf(w, "  LVM:        volume group %s, extents of %s\n", escape(l.VolumeGroup), size(uint64(l.ExtentSize)))
	for _, lv := range l.LogicalVolumes {
		fmt.Fprintf(w, "    LV %s: %s in %d segment(s)\n", escape(lv.Name), size(uint64(lv.Size)), lv.Segments)
		for _, e := range lv.Extents {
			fmt.Fprintf(w, "      LV bytes %#x+%#x at disk offset %#x", e.LVOffset, e.Length, e.DiskOffset)
			if e.Stripes > 1 {
				fmt.Fprintf(w, " (stripe %d of %d)", e.Stripe+1, e.Stripes)
			}
			fmt.Fprintln(w)
		}
		switch {
		case lv.Error != "":
			fmt.Fprintf(w, "      unreadable: %s\n", escape(lv.Error))
		case lv.Filesystem != nil:
			printFS(w, "      ", lv.Filesystem)
		default:
			fmt.Fprintln(w, "      filesystem: not recognised")
		}
	}
}
