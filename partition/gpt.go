package partition

import (
	"fmt"
	"hash/crc32"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// GPT layout (UEFI specification, chapter 5).
const (
	gptSignature     = "EFI PART"
	gptHeaderMinSize = 92
	gptEntryMinSize  = 128
	// gptMaxEntries bounds the entries array read, whatever the header
	// claims (the usual array is 16 KiB).
	gptMaxEntries = 16 << 20
)

// GPT holds the two headers of a GPT disk and the entries of the one used.
type GPT struct {
	Primary *GPTHeader `json:"primary"` // at LBA 1; nil if past the end
	Backup  *GPTHeader `json:"backup"`  // at the last LBA (or where the primary says)
	// UsedBackup is true when the primary header is invalid and the
	// partitions come from the backup.
	UsedBackup bool `json:"used_backup"`
	// Entries are the non-empty entries of the header used.
	Entries []*GPTEntry `json:"entries"`
}

// Header returns the header the partitions come from, nil if neither is
// valid.
func (g *GPT) Header() *GPTHeader {
	switch {
	case g.UsedBackup:
		return g.Backup
	case g.Primary != nil && g.Primary.Valid():
		return g.Primary
	}
	return nil
}

// GPTHeader is a GPT header with the checksums it stores and those
// computed.
type GPTHeader struct {
	Offset             int64  `json:"offset"`
	Signature          string `json:"signature"`
	Revision           uint32 `json:"revision"`
	HeaderSize         uint32 `json:"header_size"`
	HeaderCRC          uint32 `json:"header_crc"`
	ComputedHeaderCRC  uint32 `json:"computed_header_crc"`
	MyLBA              uint64 `json:"my_lba"`
	AlternateLBA       uint64 `json:"alternate_lba"`
	FirstUsableLBA     uint64 `json:"first_usable_lba"`
	LastUsableLBA      uint64 `json:"last_usable_lba"`
	DiskGUID           string `json:"disk_guid"`
	EntriesLBA         uint64 `json:"entries_lba"`
	EntryCount         uint32 `json:"entry_count"`
	EntrySize          uint32 `json:"entry_size"`
	EntriesCRC         uint32 `json:"entries_crc"`
	ComputedEntriesCRC uint32 `json:"computed_entries_crc"`
	// Problem says why the header is invalid, "" when it is valid.
	Problem string `json:"problem,omitempty"`

	entries []byte // the entries array, when it could be read
}

// Valid reports whether the header and its entries array are intact.
func (h *GPTHeader) Valid() bool { return h.Problem == "" }

// GPTEntry is one non-empty entry of the GPT entries array.
type GPTEntry struct {
	Offset     int64  `json:"offset"` // disk offset of the entry
	Index      int    `json:"index"`  // from 0
	TypeGUID   string `json:"type_guid"`
	UniqueGUID string `json:"unique_guid"`
	FirstLBA   uint64 `json:"first_lba"`
	LastLBA    uint64 `json:"last_lba"` // inclusive
	Attributes uint64 `json:"attributes"`
	Name       string `json:"name"`
}

// gptHeader reads the header at sector lba and checks it and its entries
// array; nil when the sector is past the end of the disk.
func (d *disk) gptHeader(lba int64) (*GPTHeader, error) {
	off := lba * d.sector
	b, err := d.read("GPT header", off, d.sector)
	if b == nil || err != nil {
		return nil, err
	}
	h := &GPTHeader{
		Offset:         off,
		Signature:      string(b[0:8]),
		Revision:       le32(b, 8),
		HeaderSize:     le32(b, 12),
		HeaderCRC:      le32(b, 16),
		MyLBA:          le64(b, 24),
		AlternateLBA:   le64(b, 32),
		FirstUsableLBA: le64(b, 40),
		LastUsableLBA:  le64(b, 48),
		DiskGUID:       guid(b[56:72]),
		EntriesLBA:     le64(b, 72),
		EntryCount:     le32(b, 80),
		EntrySize:      le32(b, 84),
		EntriesCRC:     le32(b, 88),
	}
	switch {
	case h.Signature != gptSignature:
		h.Problem = fmt.Sprintf("signature %q, want %q", h.Signature, gptSignature)
		return h, nil
	case h.HeaderSize < gptHeaderMinSize || int64(h.HeaderSize) > d.sector:
		h.Problem = fmt.Sprintf("header size %d outside %d-%d", h.HeaderSize, gptHeaderMinSize, d.sector)
		return h, nil
	}
	c := make([]byte, h.HeaderSize)
	copy(c, b)
	clear(c[16:20])
	h.ComputedHeaderCRC = crc32.ChecksumIEEE(c)
	sectors := uint64(d.size / d.sector)
	array := uint64(h.EntryCount) * uint64(h.EntrySize)
	switch {
	case h.ComputedHeaderCRC != h.HeaderCRC:
		h.Problem = fmt.Sprintf("header CRC 0x%08x, computed 0x%08x", h.HeaderCRC, h.ComputedHeaderCRC)
	case h.MyLBA != uint64(lba):
		h.Problem = fmt.Sprintf("the header says it is at LBA %d, it is at LBA %d", h.MyLBA, lba)
	case h.EntrySize < gptEntryMinSize || h.EntrySize%8 != 0:
		h.Problem = fmt.Sprintf("entry size %d is not a multiple of 8 of at least %d", h.EntrySize, gptEntryMinSize)
	case array > gptMaxEntries:
		h.Problem = fmt.Sprintf("entries array of %d bytes (%d entries of %d) exceeds the %d read", array, h.EntryCount, h.EntrySize, gptMaxEntries)
	case h.EntriesLBA >= sectors || array > (sectors-h.EntriesLBA)*uint64(d.sector):
		h.Problem = fmt.Sprintf("entries array at LBA %d (%d bytes) lies beyond the end of the disk", h.EntriesLBA, array)
	case h.FirstUsableLBA > h.LastUsableLBA:
		h.Problem = fmt.Sprintf("first usable LBA %d is past the last, %d", h.FirstUsableLBA, h.LastUsableLBA)
	}
	if h.Problem != "" {
		return h, nil
	}
	h.entries, err = d.read("GPT entries", int64(h.EntriesLBA)*d.sector, int64(array))
	if err != nil {
		return nil, err
	}
	h.ComputedEntriesCRC = crc32.ChecksumIEEE(h.entries)
	if h.ComputedEntriesCRC != h.EntriesCRC {
		h.Problem = fmt.Sprintf("entries array CRC 0x%08x, computed 0x%08x", h.EntriesCRC, h.ComputedEntriesCRC)
	}
	return h, nil
}

// readGPT reads both headers, chooses the one to use, reports what
// differs between them, and lists the partitions.
func (d *disk) readGPT() error {
	t := d.t
	t.Scheme = SchemeGPT
	g := &GPT{Entries: []*GPTEntry{}}
	t.GPT = g
	var err error
	if g.Primary, err = d.gptHeader(1); err != nil {
		return err
	}
	last := d.size/d.sector - 1
	if g.Backup, err = d.gptHeader(last); err != nil {
		return err
	}
	p := g.Primary
	if p != nil && p.Valid() && p.LastUsableLBA > uint64(last) {
		d.add("gpt.usable_beyond_end", vdisk.SeverityWarning, "primary GPT header", p.Offset+48,
			"the last usable LBA %d is past the end of the disk (last LBA %d)", p.LastUsableLBA, last)
	}
	if p != nil && p.Valid() && p.AlternateLBA != uint64(last) {
		d.add("gpt.alternate_lba", vdisk.SeverityWarning, "primary GPT header", p.Offset+32,
			"the primary header puts the backup at LBA %d, not at the last LBA %d (a disk that was resized?)", p.AlternateLBA, last)
		if (g.Backup == nil || !g.Backup.Valid()) && p.AlternateLBA < uint64(last) {
			if g.Backup, err = d.gptHeader(int64(p.AlternateLBA)); err != nil {
				return err
			}
		}
	}
	b := g.Backup
	switch {
	case p != nil && p.Valid():
		if b == nil || !b.Valid() {
			d.add("gpt.backup_invalid", vdisk.SeverityWarning, "backup GPT header", backupOffset(b, last*d.sector),
				"the backup GPT header is invalid: %s", headerProblem(b))
		} else {
			d.compareHeaders(p, b)
		}
	case b != nil && b.Valid():
		g.UsedBackup = true
		d.add("gpt.primary_invalid", vdisk.SeverityError, "primary GPT header", d.sector,
			"the primary GPT header is invalid (%s); the partitions come from the backup header at LBA %d", headerProblem(p), b.MyLBA)
	default:
		d.add("gpt.no_valid_header", vdisk.SeverityError, "GPT header", d.sector,
			"neither GPT header is valid: primary: %s; backup: %s", headerProblem(p), headerProblem(b))
		return d.otherSectorSize()
	}
	d.gptEntries(g.Header())
	return nil
}

// readGPTWithoutPMBR reads a GPT from a disk whose sector 0 holds no
// protective MBR, when either header has the GPT signature.
func (d *disk) readGPTWithoutPMBR() (bool, error) {
	for _, lba := range []int64{1, d.size/d.sector - 1} {
		h, err := d.gptHeader(lba)
		if err != nil {
			return false, err
		}
		if h != nil && h.Signature == gptSignature {
			d.add("gpt.no_protective_mbr", vdisk.SeverityWarning, "MBR", 0, "a GPT header without a protective MBR in sector 0")
			return true, d.readGPT()
		}
	}
	return false, nil
}

// otherSectorSize reports a GPT header at LBA 1 of another sector size: a
// disk read with the wrong logical sector size.
func (d *disk) otherSectorSize() error {
	for _, s := range []int64{512, 4096} {
		if s == d.sector {
			continue
		}
		b, err := d.read("GPT header", s, 8)
		if err != nil {
			return err
		}
		if string(b) == gptSignature {
			d.add("gpt.sector_size", vdisk.SeverityWarning, "GPT header", s,
				"a GPT header for %d-byte sectors is at offset %d: the disk's sectors may be %d bytes, not %d", s, s, s, d.sector)
		}
	}
	return nil
}

func headerProblem(h *GPTHeader) string {
	if h == nil {
		return "past the end of the disk"
	}
	if h.Problem == "" {
		return "valid"
	}
	return h.Problem
}

func backupOffset(h *GPTHeader, def int64) int64 {
	if h == nil {
		return def
	}
	return h.Offset
}

// compareHeaders reports fields on which two valid headers disagree.
func (d *disk) compareHeaders(p, b *GPTHeader) {
	diff := func(name string, off int64, pv, bv any) {
		if pv != bv {
			d.add("gpt.headers_differ", vdisk.SeverityWarning, "backup GPT header", b.Offset+off,
				"the headers disagree on %s: primary %v, backup %v", name, pv, bv)
		}
	}
	diff("the disk GUID", 56, p.DiskGUID, b.DiskGUID)
	diff("the first usable LBA", 40, p.FirstUsableLBA, b.FirstUsableLBA)
	diff("the last usable LBA", 48, p.LastUsableLBA, b.LastUsableLBA)
	diff("the entry count", 80, p.EntryCount, b.EntryCount)
	diff("the entry size", 84, p.EntrySize, b.EntrySize)
	diff("the entries array CRC", 88, p.EntriesCRC, b.EntriesCRC)
	diff("the alternate LBA", 32, p.AlternateLBA, b.MyLBA)
	diff("the backup's alternate LBA", 32, p.MyLBA, b.AlternateLBA)
}

// gptEntries lists the non-empty entries of header h as partitions.
func (d *disk) gptEntries(h *GPTHeader) {
	g := d.t.GPT
	base := int64(h.EntriesLBA) * d.sector
	for i := 0; i < int(h.EntryCount); i++ {
		e := h.entries[i*int(h.EntrySize):][:gptEntryMinSize]
		if isZero(e[0:16]) {
			continue
		}
		ent := &GPTEntry{
			Offset:     base + int64(i)*int64(h.EntrySize),
			Index:      i,
			TypeGUID:   guid(e[0:16]),
			UniqueGUID: guid(e[16:32]),
			FirstLBA:   le64(e, 32),
			LastLBA:    le64(e, 40),
			Attributes: le64(e, 48),
			Name:       utf16Name(e[56:128]),
		}
		g.Entries = append(g.Entries, ent)
		structure := fmt.Sprintf("GPT entry %d", i+1)
		// The end, (LastLBA+1) sectors, must fit an int64 of bytes.
		if ent.LastLBA < ent.FirstLBA || ent.LastLBA >= uint64(1<<63)/uint64(d.sector)-1 {
			d.add("gpt.entry_range", vdisk.SeverityError, structure, ent.Offset+32, "first LBA %d and last LBA %d make no partition", ent.FirstLBA, ent.LastLBA)
			continue
		}
		if ent.FirstLBA < h.FirstUsableLBA || ent.LastLBA > h.LastUsableLBA {
			d.add("gpt.entry_unusable", vdisk.SeverityWarning, structure, ent.Offset+32,
				"sectors %d-%d lie outside the usable range %d-%d", ent.FirstLBA, ent.LastLBA, h.FirstUsableLBA, h.LastUsableLBA)
		}
		sectors := int64(ent.LastLBA-ent.FirstLBA) + 1
		p := &Partition{
			Number:         i + 1,
			Start:          int64(ent.FirstLBA) * d.sector,
			Length:         sectors * d.sector,
			StartSector:    int64(ent.FirstLBA),
			Sectors:        sectors,
			Type:           ent.TypeGUID,
			TypeName:       gptTypeName(ent.TypeGUID),
			GUID:           ent.UniqueGUID,
			Attributes:     ent.Attributes,
			AttributeNames: gptAttributeNames(ent.Attributes),
			Name:           ent.Name,
			EntryOffset:    ent.Offset,
		}
		d.t.Partitions = append(d.t.Partitions, p)
		d.checkBounds(p, structure)
	}
}
