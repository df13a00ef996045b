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
				pj.Filesystem = &fsJSON{info.Type, info.Label, info.UUID, info.Size, info.BlockSize, info.Used, info.Version}
			}
		}
		out.Partitions = append(out.Partitions, pj)
	}
	return out, nil
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
		switch fs := p.Filesystem; {
		case p.FilesystemError != "":
			fmt.Fprintf(w, "  filesystem: unreadable: %s\n", p.FilesystemError)
		case fs != nil:
			fmt.Fprintf(w, "  filesystem: %s", fs.Type)
			if fs.Version != "" {
				fmt.Fprintf(w, " %s", fs.Version)
			}
			fmt.Fprintf(w, ", label %q, UUID %s\n", fs.Label, fs.UUID)
			fmt.Fprintf(w, "              size %s, blocks of %d bytes", size(uint64(fs.Size)), fs.BlockSize)
			if fs.Used >= 0 {
				fmt.Fprintf(w, ", used %s", size(uint64(fs.Used)))
			}
			fmt.Fprintln(w)
		case !p.Extended:
			fmt.Fprintln(w, "  filesystem: not recognised")
		}
	}
	if len(out.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		for _, f := range out.Findings {
			fmt.Fprintf(w, "  %-7s %s at %#x: %s [%s]\n", f.Severity, f.Structure, f.Offset, f.Message, f.Code)
		}
	}
}
