package vhdx

import (
	"fmt"
	"io"

	"github.com/google/uuid"
)

// Well-known region GUIDs (MS-VHDX 2.2.3.2).
var (
	RegionBAT      = uuid.MustParse("2DC27766-F623-4200-9D64-115E9BFD4A08")
	RegionMetadata = uuid.MustParse("8B7CA206-4790-4B9A-B8FE-575F050F886E")
)

const maxRegionEntries = 2047

// RegionTable is one of the two copies of the region table (MS-VHDX 2.2.3).
type RegionTable struct {
	Offset           int64         `json:"offset"`
	Length           int64         `json:"length"`
	Signature        string        `json:"signature"`
	Checksum         uint32        `json:"checksum"`
	ComputedChecksum uint32        `json:"computed_checksum"`
	EntryCount       uint32        `json:"entry_count"`
	Reserved         uint32        `json:"reserved"`
	Entries          []RegionEntry `json:"entries"`
	Valid            bool          `json:"valid"`
	Problem          string        `json:"problem,omitempty"`
}

// RegionEntry locates one region of the file.
type RegionEntry struct {
	Offset     int64     `json:"offset"` // file offset of this entry
	GUID       uuid.UUID `json:"guid"`
	Name       string    `json:"name"` // "BAT", "metadata" or "unknown"
	FileOffset uint64    `json:"file_offset"`
	Length     uint32    `json:"length"`
	Required   bool      `json:"required"`
	Flags      uint32    `json:"flags"` // the raw flags field, reserved bits included
}

func regionName(g uuid.UUID) string {
	switch g {
	case RegionBAT:
		return "BAT"
	case RegionMetadata:
		return "metadata"
	}
	return "unknown"
}

func readRegionTable(r io.ReaderAt, off int64) *RegionTable {
	t := &RegionTable{Offset: off, Length: regionTableSize}
	b := make([]byte, regionTableSize)
	if err := readAt(r, b, off, "region table"); err != nil {
		t.Problem = err.Error()
		return t
	}
	t.Signature = string(b[0:4])
	t.Checksum = le.Uint32(b[4:])
	t.ComputedChecksum = crcWithHole(b, 4)
	t.EntryCount = le.Uint32(b[8:])
	t.Reserved = le.Uint32(b[12:])
	switch {
	case t.Signature != "regi":
		t.Problem = fmt.Sprintf("signature is %q, want \"regi\"", t.Signature)
	case t.Checksum != t.ComputedChecksum:
		t.Problem = fmt.Sprintf("checksum %#08x does not match computed %#08x", t.Checksum, t.ComputedChecksum)
	case t.EntryCount > maxRegionEntries:
		t.Problem = fmt.Sprintf("entry count %d exceeds %d", t.EntryCount, maxRegionEntries)
	default:
		t.Valid = true
	}
	n := min(t.EntryCount, maxRegionEntries)
	for i := uint32(0); i < n; i++ {
		e := b[16+32*i:]
		flags := le.Uint32(e[28:])
		g := guidAt(e)
		t.Entries = append(t.Entries, RegionEntry{
			Offset:     off + 16 + 32*int64(i),
			GUID:       g,
			Name:       regionName(g),
			FileOffset: le.Uint64(e[16:]),
			Length:     le.Uint32(e[24:]),
			Required:   flags&1 != 0,
			Flags:      flags,
		})
	}
	return t
}

// sameEntries reports whether two region tables list the same regions.
func sameEntries(a, b *RegionTable) bool {
	if len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		x, y := a.Entries[i], b.Entries[i]
		if x.GUID != y.GUID || x.FileOffset != y.FileOffset || x.Length != y.Length || x.Flags != y.Flags {
			return false
		}
	}
	return true
}
