package vhdx

import (
	"fmt"
	"io"

	"github.com/google/uuid"
)

// Well-known metadata item GUIDs (MS-VHDX 2.6.2).
var (
	ItemFileParameters     = uuid.MustParse("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	ItemVirtualDiskSize    = uuid.MustParse("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	ItemPage83Data         = uuid.MustParse("BECA12AB-B2E6-4523-93EF-C309E000C746")
	ItemLogicalSectorSize  = uuid.MustParse("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	ItemPhysicalSectorSize = uuid.MustParse("CDA348C7-445D-4471-9CC9-E9885251C556")
	ItemParentLocator      = uuid.MustParse("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
)

var itemNames = map[uuid.UUID]string{
	ItemFileParameters:     "file parameters",
	ItemVirtualDiskSize:    "virtual disk size",
	ItemPage83Data:         "page 83 data",
	ItemLogicalSectorSize:  "logical sector size",
	ItemPhysicalSectorSize: "physical sector size",
	ItemParentLocator:      "parent locator",
}

// itemSizes gives the exact length of the fixed-size known items.
var itemSizes = map[uuid.UUID]uint32{
	ItemFileParameters:     8,
	ItemVirtualDiskSize:    8,
	ItemPage83Data:         16,
	ItemLogicalSectorSize:  4,
	ItemPhysicalSectorSize: 4,
}

const (
	metadataTableSize  = 64 * kib
	maxMetadataEntries = 2047
	maxVirtualSize     = 64 * tib
	minBlockSize       = 1 * mib
	maxBlockSize       = 256 * mib
	maxItemLength      = 1 * mib // MS-VHDX 2.6.1.2
)

// Metadata is the metadata region: its table and the decoded known items.
type Metadata struct {
	Offset     int64           `json:"offset"` // file offset of the region (and of its table)
	Length     int64           `json:"length"` // length of the region
	Signature  string          `json:"signature"`
	EntryCount uint16          `json:"entry_count"`
	Entries    []MetadataEntry `json:"entries"`
	Problem    string          `json:"problem,omitempty"`

	BlockSize            uint32         `json:"block_size"`
	LeaveBlocksAllocated bool           `json:"leave_blocks_allocated"`
	HasParent            bool           `json:"has_parent"`
	VirtualSize          uint64         `json:"virtual_size"`
	Page83               uuid.UUID      `json:"page83_data"`
	LogicalSectorSize    uint32         `json:"logical_sector_size"`
	PhysicalSectorSize   uint32         `json:"physical_sector_size"`
	ParentLocator        *ParentLocator `json:"parent_locator,omitempty"`

	// problems holds findings met while decoding items.
	problems []Finding
	fileSize int64 // bounds every item read
}

// MetadataEntry is one entry of the metadata table.
type MetadataEntry struct {
	Offset        int64     `json:"offset"` // file offset of this table entry
	ItemID        uuid.UUID `json:"item_id"`
	Name          string    `json:"name"` // known item name or "unknown"
	ItemOffset    uint32    `json:"item_offset"`
	ItemLength    uint32    `json:"item_length"`
	FileOffset    int64     `json:"file_offset"` // file offset of the item's data
	IsUser        bool      `json:"is_user"`
	IsVirtualDisk bool      `json:"is_virtual_disk"`
	IsRequired    bool      `json:"is_required"`
	Flags         uint32    `json:"flags"`
}

func readMetadata(r io.ReaderAt, region RegionEntry, fileSize int64) *Metadata {
	m := &Metadata{Offset: fileEnd(region.FileOffset, 0), Length: int64(region.Length), fileSize: fileSize}
	if region.Length < metadataTableSize {
		m.Problem = fmt.Sprintf("region length %d is smaller than the 64 KiB table", region.Length)
		return m
	}
	b := make([]byte, metadataTableSize)
	if err := readAt(r, b, m.Offset, "metadata table"); err != nil {
		m.Problem = err.Error()
		return m
	}
	m.Signature = string(b[:8])
	m.EntryCount = le.Uint16(b[10:])
	if m.Signature != "metadata" {
		m.Problem = fmt.Sprintf("signature is %q, want \"metadata\"", m.Signature)
		return m
	}
	if m.EntryCount > maxMetadataEntries {
		m.Problem = fmt.Sprintf("entry count %d exceeds %d", m.EntryCount, maxMetadataEntries)
		return m
	}
	for i := 0; i < int(m.EntryCount); i++ {
		e := b[32+32*i:]
		flags := le.Uint32(e[24:])
		id := guidAt(e)
		name, ok := itemNames[id]
		if !ok {
			name = "unknown"
		}
		ent := MetadataEntry{
			Offset:        m.Offset + 32 + 32*int64(i),
			ItemID:        id,
			Name:          name,
			ItemOffset:    le.Uint32(e[16:]),
			ItemLength:    le.Uint32(e[20:]),
			IsUser:        flags&1 != 0,
			IsVirtualDisk: flags&2 != 0,
			IsRequired:    flags&4 != 0,
			Flags:         flags,
		}
		ent.FileOffset = m.Offset + int64(ent.ItemOffset)
		m.Entries = append(m.Entries, ent)
	}
	m.decodeItems(r)
	return m
}

// entry returns the first table entry for a known item.
func (m *Metadata) entry(id uuid.UUID) *MetadataEntry {
	for i := range m.Entries {
		if m.Entries[i].ItemID == id {
			return &m.Entries[i]
		}
	}
	return nil
}

func (m *Metadata) problem(code string, off int64, format string, args ...any) {
	m.problems = append(m.problems, Finding{Code: code, Severity: SeverityError, Structure: "metadata", Offset: off, Message: fmt.Sprintf(format, args...)})
}

// itemData reads a known item whose length and bounds are valid.
func (m *Metadata) itemData(r io.ReaderAt, e *MetadataEntry) ([]byte, bool) {
	if uint64(e.ItemOffset)+uint64(e.ItemLength) > uint64(m.Length) || e.ItemOffset < metadataTableSize {
		m.problem("metadata.item_bounds", e.Offset, "%s item (offset %d, length %d) lies outside the metadata region's data area", e.Name, e.ItemOffset, e.ItemLength)
		return nil, false
	}
	if want, fixed := itemSizes[e.ItemID]; fixed && e.ItemLength != want {
		m.problem("metadata.item_size", e.Offset, "%s item is %d bytes, want %d", e.Name, e.ItemLength, want)
		return nil, false
	}
	if e.ItemLength > maxItemLength {
		m.problem("metadata.item_size", e.Offset, "%s item is %d bytes, more than the 1 MiB maximum", e.Name, e.ItemLength)
		return nil, false
	}
	if e.FileOffset+int64(e.ItemLength) > m.fileSize {
		m.problem("metadata.item_beyond_eof", e.Offset, "%s item (file offset %d, length %d) ends beyond the %d-byte file", e.Name, e.FileOffset, e.ItemLength, m.fileSize)
		return nil, false
	}
	b := make([]byte, e.ItemLength)
	if err := readAt(r, b, e.FileOffset, e.Name); err != nil {
		m.problem("metadata.item_unreadable", e.FileOffset, "%s item cannot be read: %v", e.Name, err)
		return nil, false
	}
	return b, true
}

func (m *Metadata) decodeItems(r io.ReaderAt) {
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Name == "unknown" || m.entry(e.ItemID) != e {
			continue
		}
		b, ok := m.itemData(r, e)
		if !ok {
			continue
		}
		switch e.ItemID {
		case ItemFileParameters:
			m.BlockSize = le.Uint32(b)
			flags := le.Uint32(b[4:])
			m.LeaveBlocksAllocated = flags&1 != 0
			m.HasParent = flags&2 != 0
		case ItemVirtualDiskSize:
			m.VirtualSize = le.Uint64(b)
		case ItemPage83Data:
			m.Page83 = guidAt(b)
		case ItemLogicalSectorSize:
			m.LogicalSectorSize = le.Uint32(b)
		case ItemPhysicalSectorSize:
			m.PhysicalSectorSize = le.Uint32(b)
		case ItemParentLocator:
			pl, err := parseParentLocator(b, e.FileOffset)
			if err != nil {
				m.problem("parent_locator.invalid", e.FileOffset, "%v", err)
			}
			m.ParentLocator = pl
		}
	}
}

// usable reports why the virtual disk cannot be read from this metadata, or nil.
func (m *Metadata) usable() error {
	if m.Problem != "" {
		return formatErr(ErrCorrupt, "metadata table", m.Offset, "%s", m.Problem)
	}
	for _, e := range m.Entries {
		if e.Name == "unknown" && e.IsRequired {
			return formatErr(ErrUnsupported, "metadata entry", e.Offset, "unknown metadata item %s is marked required", e.ItemID)
		}
	}
	for _, id := range []uuid.UUID{ItemFileParameters, ItemVirtualDiskSize, ItemLogicalSectorSize} {
		if m.entry(id) == nil {
			return formatErr(ErrCorrupt, "metadata table", m.Offset, "required item %q is missing", itemNames[id])
		}
	}
	switch {
	case m.BlockSize < minBlockSize || m.BlockSize > maxBlockSize || m.BlockSize&(m.BlockSize-1) != 0:
		return formatErr(ErrCorrupt, "file parameters", m.entry(ItemFileParameters).FileOffset, "block size %d is not a power of two between 1 MiB and 256 MiB", m.BlockSize)
	case m.LogicalSectorSize != 512 && m.LogicalSectorSize != 4096:
		return formatErr(ErrCorrupt, "logical sector size", m.entry(ItemLogicalSectorSize).FileOffset, "logical sector size %d, want 512 or 4096", m.LogicalSectorSize)
	case m.VirtualSize == 0 || m.VirtualSize > maxVirtualSize || m.VirtualSize%uint64(m.LogicalSectorSize) != 0:
		return formatErr(ErrCorrupt, "virtual disk size", m.entry(ItemVirtualDiskSize).FileOffset, "virtual size %d is not a non-zero multiple of the logical sector size up to 64 TiB", m.VirtualSize)
	}
	return nil
}

// ChunkRatio is the number of payload blocks covered by one sector bitmap
// block: 2^23 * logical sector size / block size.
func (m *Metadata) ChunkRatio() uint64 {
	if m.BlockSize == 0 {
		return 0
	}
	return (1 << 23) * uint64(m.LogicalSectorSize) / uint64(m.BlockSize)
}

// BlockCount is the number of payload blocks covering the virtual disk.
func (m *Metadata) BlockCount() uint64 {
	if m.BlockSize == 0 {
		return 0
	}
	return (m.VirtualSize + uint64(m.BlockSize) - 1) / uint64(m.BlockSize)
}
