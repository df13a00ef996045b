package partition

import (
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// Partitioning schemes, as Table.Scheme reports them.
const (
	SchemeMBR  = "mbr"
	SchemeGPT  = "gpt"
	SchemeNone = "none"
)

// Table is the partition table of a disk.
type Table struct {
	Scheme     string `json:"scheme"` // SchemeMBR, SchemeGPT or SchemeNone
	SectorSize int    `json:"sector_size"`
	DiskSize   int64  `json:"disk_size"`
	// MBR is the boot record in sector 0 (the protective MBR of a GPT
	// disk), nil when sector 0 holds none.
	MBR *BootRecord `json:"mbr,omitempty"`
	// EBRs are the extended boot records of the chains followed, in order.
	EBRs []*BootRecord `json:"ebrs,omitempty"`
	// GPT holds both GPT headers and the entries, nil on an MBR disk.
	GPT *GPT `json:"gpt,omitempty"`
	// Partitions are in the order of their numbers.
	Partitions []*Partition `json:"partitions"`
	// Findings are the problems met, in the order met.
	Findings []vdisk.Finding `json:"findings"`
}

// Partition is one partition, or the whole disk (number 0) when the disk
// has no table but a filesystem at offset 0.
type Partition struct {
	// Number is the partition number as Linux gives it: MBR primary 1-4,
	// logical 5 onwards in chain order; GPT entry index + 1; 0 for the
	// whole disk.
	Number      int    `json:"number"`
	Start       int64  `json:"start"`  // bytes from the start of the disk
	Length      int64  `json:"length"` // bytes
	StartSector int64  `json:"start_sector"`
	Sectors     int64  `json:"sectors"`
	Type        string `json:"type"`      // MBR: "0x83"; GPT: the type GUID; whole disk: ""
	TypeName    string `json:"type_name"` // e.g. "Linux", "EFI System"
	// Extended is true for an MBR extended partition, the container of
	// the logical partitions.
	Extended bool `json:"extended,omitempty"`
	Bootable bool `json:"bootable,omitempty"` // MBR boot flag (0x80)
	// GUID is the GPT unique partition GUID.
	GUID string `json:"guid,omitempty"`
	// Attributes are the GPT attribute bits; AttributeNames names the
	// set ones as sfdisk does ("RequiredPartition", "GUID:63").
	Attributes     uint64   `json:"attributes,omitempty"`
	AttributeNames []string `json:"attribute_names,omitempty"`
	Name           string   `json:"name,omitempty"` // GPT partition name
	// EntryOffset is the disk offset of the table entry describing the
	// partition, -1 for the whole disk.
	EntryOffset int64 `json:"entry_offset"`
}

// End returns the offset just past the partition.
func (p *Partition) End() int64 { return p.Start + p.Length }

// Section returns a reader of the partition's bytes on disk r, cut to the
// end of the disk.
func (t *Table) Section(r io.ReaderAt, p *Partition) *io.SectionReader {
	n := p.Length
	if p.Start >= t.DiskSize {
		n = 0
	} else if n > t.DiskSize-p.Start {
		n = t.DiskSize - p.Start
	}
	return io.NewSectionReader(r, min(p.Start, t.DiskSize), n)
}

// Read reads the partition table of a disk of size bytes with the given
// logical sector size. Damaged structures are reported in the table's
// findings; an error means the sector size is not supported or the disk
// could not be read.
func Read(r io.ReaderAt, size int64, sectorSize int) (*Table, error) {
	switch sectorSize {
	case 512, 1024, 2048, 4096:
	default:
		return nil, formatErr(ErrSectorSize, "disk", -1, "%d", sectorSize)
	}
	t := &Table{Scheme: SchemeNone, SectorSize: sectorSize, DiskSize: size, Partitions: []*Partition{}, Findings: []vdisk.Finding{}}
	d := &disk{r: r, size: size, sector: int64(sectorSize), t: t}
	mbr, err := d.bootRecord("MBR", 0)
	if err != nil {
		return nil, err
	}
	switch {
	case mbr != nil && mbr.hasType(mbrTypeGPT):
		t.MBR = mbr
		if err := d.readGPT(); err != nil {
			return nil, err
		}
	case mbr != nil && !mbr.empty():
		t.MBR = mbr
		t.Scheme = SchemeMBR
		if err := d.readMBR(); err != nil {
			return nil, err
		}
	default:
		// No MBR, or one with no partition: a GPT without a protective MBR,
		// a filesystem at offset 0, or nothing known.
		found, err := d.readGPTWithoutPMBR()
		if err != nil || found {
			return t, err
		}
		if err := d.wholeDisk(mbr); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// wholeDisk makes partition 0 of a disk without a table when a filesystem
// starts at offset 0; an empty MBR with nothing behind it is an MBR disk
// without partitions.
func (d *disk) wholeDisk(mbr *BootRecord) error {
	info, err := filesystem.Probe(d.r, d.size)
	if err != nil {
		return formatErr(fmt.Errorf("%w: %w", ErrRead, err), "disk", 0, "probing for a filesystem")
	}
	if info.Type == "" {
		if mbr != nil {
			d.t.MBR, d.t.Scheme = mbr, SchemeMBR
		}
		return nil
	}
	sectors := d.size / d.sector
	d.t.Partitions = append(d.t.Partitions, &Partition{
		Number: 0, Start: 0, Length: d.size, Sectors: sectors, TypeName: "whole disk", EntryOffset: -1,
	})
	return nil
}

// disk reads sectors of the disk and collects findings into t.
type disk struct {
	r      io.ReaderAt
	size   int64
	sector int64
	t      *Table
}

// read returns the n bytes at off, or nil when they lie beyond the end of
// the disk.
func (d *disk) read(structure string, off int64, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return nil, nil
	}
	b := make([]byte, n)
	m, err := d.r.ReadAt(b, off)
	if int64(m) == n {
		return b, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, formatErr(fmt.Errorf("%w: %w", ErrRead, err), structure, off, "reading %d bytes", n)
}

func (d *disk) add(code string, sev vdisk.Severity, structure string, off int64, format string, args ...any) {
	d.t.Findings = append(d.t.Findings, vdisk.Finding{Code: code, Severity: sev, Structure: structure, Offset: off, Message: fmt.Sprintf(format, args...)})
}

// checkBounds reports a partition that does not fit on the disk.
func (d *disk) checkBounds(p *Partition, structure string) {
	if p.End() > d.size {
		d.add("partition.beyond_end", vdisk.SeverityError, structure, p.EntryOffset,
			"partition %d (sectors %d-%d) extends beyond the end of the disk (%d sectors)", p.Number, p.StartSector, p.StartSector+p.Sectors-1, d.size/d.sector)
	}
}
