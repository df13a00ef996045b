package partition

import (
	"fmt"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// MBR layout: four 16-byte entries at 446, the signature 55 aa at 510.
const (
	mbrEntriesOffset = 446
	mbrEntrySize     = 16
	mbrSignatureOff  = 510
	mbrSignature     = 0xaa55
	mbrDiskSigOffset = 440
	mbrTypeGPT       = 0xee
	// maxLogical bounds the EBR chain (Linux stops far lower).
	maxLogical = 256
)

// BootRecord is an MBR or an EBR: four entries and a signature.
type BootRecord struct {
	Offset        int64    `json:"offset"`         // disk offset of the sector
	DiskSignature uint32   `json:"disk_signature"` // at 440; MBR only
	Entries       [4]Entry `json:"entries"`
	Signature     uint16   `json:"signature"` // 0xaa55 when valid
}

// Entry is one 16-byte partition entry of a boot record.
type Entry struct {
	Offset   int64   `json:"offset"` // disk offset of the entry
	Status   byte    `json:"status"` // 0x80 bootable, 0 not
	CHSFirst [3]byte `json:"chs_first"`
	Type     byte    `json:"type"`
	CHSLast  [3]byte `json:"chs_last"`
	FirstLBA uint32  `json:"first_lba"` // relative to the boot record's base
	Sectors  uint32  `json:"sectors"`
}

// used reports whether the entry describes a partition.
func (e *Entry) used() bool { return e.Type != 0 && e.Sectors != 0 }

// isExtended reports whether type t is an extended partition (DOS, LBA or
// Linux).
func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

func (b *BootRecord) hasType(t byte) bool {
	for i := range b.Entries {
		if b.Entries[i].Type == t {
			return true
		}
	}
	return false
}

func (b *BootRecord) empty() bool {
	for i := range b.Entries {
		if b.Entries[i].used() {
			return false
		}
	}
	return true
}

// bootRecord reads the boot record in the sector at off. It returns nil
// when the sector is past the end, lacks the 55 aa signature, or has an
// entry whose status is neither 0 nor 0x80 (a filesystem's boot sector).
func (d *disk) bootRecord(structure string, off int64) (*BootRecord, error) {
	b, err := d.read(structure, off, 512)
	if b == nil || err != nil {
		return nil, err
	}
	br := &BootRecord{Offset: off, DiskSignature: le32(b, mbrDiskSigOffset), Signature: le16(b, mbrSignatureOff)}
	if br.Signature != mbrSignature {
		return nil, nil
	}
	for i := range br.Entries {
		o := mbrEntriesOffset + i*mbrEntrySize
		e := b[o : o+mbrEntrySize]
		br.Entries[i] = Entry{
			Offset:   off + int64(o),
			Status:   e[0],
			CHSFirst: [3]byte(e[1:4]),
			Type:     e[4],
			CHSLast:  [3]byte(e[5:8]),
			FirstLBA: le32(e, 8),
			Sectors:  le32(e, 12),
		}
		if e[0] != 0 && e[0] != 0x80 {
			return nil, nil
		}
	}
	return br, nil
}

// readMBR lists the primary partitions and follows each extended
// partition's chain of EBRs.
func (d *disk) readMBR() error {
	mbr := d.t.MBR
	for i := range mbr.Entries {
		e := &mbr.Entries[i]
		if !e.used() {
			continue
		}
		p := d.mbrPartition(i+1, e, 0)
		d.t.Partitions = append(d.t.Partitions, p)
		d.checkBounds(p, "MBR")
	}
	next := 5
	for i := range mbr.Entries {
		e := &mbr.Entries[i]
		if e.used() && isExtended(e.Type) {
			var err error
			if next, err = d.readEBRs(int64(e.FirstLBA), int64(e.Sectors), next); err != nil {
				return err
			}
		}
	}
	return nil
}

// mbrPartition makes the partition of entry e, whose FirstLBA counts from
// sector base.
func (d *disk) mbrPartition(n int, e *Entry, base int64) *Partition {
	start := base + int64(e.FirstLBA)
	return &Partition{
		Number:      n,
		Start:       start * d.sector,
		Length:      int64(e.Sectors) * d.sector,
		StartSector: start,
		Sectors:     int64(e.Sectors),
		Type:        fmt.Sprintf("0x%02x", e.Type),
		TypeName:    mbrTypeName(e.Type),
		Extended:    isExtended(e.Type),
		Bootable:    e.Status == 0x80,
		EntryOffset: e.Offset,
	}
}

// readEBRs follows the chain of EBRs of the extended partition at sector
// ext (of length sectors), numbering logical partitions from next as
// Linux does: the first entry of each EBR is a logical partition relative
// to the EBR, the second links to the next EBR relative to ext. The chain
// is bounded and a loop ends it with a finding.
func (d *disk) readEBRs(ext, length int64, next int) (int, error) {
	seen := map[int64]bool{}
	for cur := ext; ; {
		off := cur * d.sector
		name := fmt.Sprintf("EBR at sector %d", cur)
		switch {
		case seen[cur]:
			d.add("ebr.loop", vdisk.SeverityError, name, off, "the EBR chain comes back to sector %d; stopped", cur)
			return next, nil
		case len(seen) >= maxLogical:
			d.add("ebr.too_many", vdisk.SeverityError, name, off, "more than %d EBRs; stopped", maxLogical)
			return next, nil
		case cur < ext || cur >= ext+length:
			d.add("ebr.outside", vdisk.SeverityError, name, off, "the EBR lies outside its extended partition (sectors %d-%d)", ext, ext+length-1)
			return next, nil
		}
		seen[cur] = true
		br, err := d.bootRecord(name, off)
		if err != nil {
			return next, err
		}
		if br == nil {
			d.add("ebr.invalid", vdisk.SeverityError, name, off, "no valid EBR (55 aa signature and entries) at sector %d", cur)
			return next, nil
		}
		d.t.EBRs = append(d.t.EBRs, br)
		if e := &br.Entries[0]; e.used() {
			p := d.mbrPartition(next, e, cur)
			next++
			d.t.Partitions = append(d.t.Partitions, p)
			d.checkBounds(p, name)
			if p.StartSector+p.Sectors > ext+length {
				d.add("ebr.logical_outside", vdisk.SeverityWarning, name, e.Offset, "logical partition %d ends past its extended partition", p.Number)
			}
		}
		link := &br.Entries[1]
		if !link.used() || !isExtended(link.Type) {
			return next, nil
		}
		cur = ext + int64(link.FirstLBA)
	}
}
