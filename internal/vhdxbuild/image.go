// Package vhdxbuild builds byte-exact VHDX (MS-VHDX v1.0) images in memory
// for tests.
//
// An Image is a mutable model of a VHDX file. New fills it with a valid,
// standard layout; tests then change fields (header sequence numbers,
// region entries, metadata items, block states and offsets, raw BAT
// entries, log entries, ...) and call Bytes (or WriteSparse for huge
// sparse images) to serialise it. Serialisation computes every checksum,
// unless a BadChecksum flag asks otherwise, and never validates the model:
// inconsistent or overlapping structures are written exactly as described,
// which is the point of the package.
//
// Standard layout produced by New:
//
//	0        file type identifier ("vhdxfile" + creator)
//	64 KiB   header 1 (sequence 1)
//	128 KiB  header 2 (sequence 2)
//	192 KiB  region table 1
//	256 KiB  region table 2
//	1 MiB    log (Options.LogSize, default 1 MiB)
//	+log     metadata region (1 MiB; table + items from 64 KiB)
//	+1 MiB   BAT (length rounded up to 1 MiB)
//	...      payload blocks and sector bitmap blocks, 1 MiB aligned
//
// Structures are written in this order, later ones overwriting earlier ones
// where a test makes them overlap: file identifier, headers, region tables,
// log entries, metadata table, metadata item data, BAT, sector bitmap
// blocks, payload block data.
package vhdxbuild

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Byte size units.
const (
	KiB = 1 << 10
	MiB = 1 << 20
)

// Fixed offsets and sizes of MS-VHDX structures.
const (
	FileIdentifierOffset  = 0
	Header1Offset         = 64 * KiB
	Header2Offset         = 128 * KiB
	RegionTable1Offset    = 192 * KiB
	RegionTable2Offset    = 256 * KiB
	HeaderSize            = 4 * KiB  // bytes covered by a header checksum
	RegionTableSize       = 64 * KiB // bytes covered by a region table checksum
	MetadataTableSize     = 64 * KiB // size of the metadata table at the start of the metadata region
	LogSectorSize         = 4 * KiB  // unit of every log structure
	SectorBitmapBlockSize = 1 * MiB  // size of one sector bitmap block
	SectorsPerChunk       = 1 << 23  // logical sectors described by one sector bitmap block
)

// Offsets and sizes of the default layout produced by New.
const (
	DefaultLogOffset      = 1 * MiB
	DefaultLogSize        = 1 * MiB
	DefaultMetadataOffset = 2 * MiB // with the default log size
	DefaultMetadataSize   = 1 * MiB
	DefaultBATOffset      = 3 * MiB // with the default log size
)

// Payload block states (BAT entry bits 0-2).
const (
	PayloadNotPresent       uint8 = 0
	PayloadUndefined        uint8 = 1
	PayloadZero             uint8 = 2
	PayloadUnmapped         uint8 = 3
	PayloadFullyPresent     uint8 = 6
	PayloadPartiallyPresent uint8 = 7
)

// Sector bitmap block states (BAT entry bits 0-2).
const (
	SectorBitmapNotPresent uint8 = 0
	SectorBitmapPresent    uint8 = 6
)

// Region table entry flags.
const (
	RegionRequired uint32 = 1
)

// Metadata table entry flags.
const (
	MetaIsUser        uint32 = 1
	MetaIsVirtualDisk uint32 = 2
	MetaIsRequired    uint32 = 4
)

// File Parameters metadata item flags.
const (
	FileParamLeaveBlocksAllocated uint32 = 1
	FileParamHasParent            uint32 = 2
)

// Options describe the virtual disk New builds. Zero fields get defaults.
type Options struct {
	VirtualSize        uint64 // default 8 MiB
	BlockSize          uint32 // default 1 MiB
	LogicalSectorSize  uint32 // default 512
	PhysicalSectorSize uint32 // default: the logical sector size
	// Fixed makes every payload block FULLY_PRESENT, allocated contiguously
	// from Image.FixedPayloadOffset (implicitly: they are not stored in
	// Image.Blocks until touched). It also sets LeaveBlocksAllocated, as
	// real fixed images do.
	Fixed                bool
	HasParent            bool // differencing disk: sets the flag and adds a parent locator
	LeaveBlocksAllocated bool
	LogSize              uint32 // default 1 MiB
	Creator              string // default "vhdxbuild"
	// DiskID is the Virtual Disk ID item; zero means DefaultDiskID.
	DiskID uuid.UUID
	// ParentLocator holds the key/value pairs of the parent locator when
	// HasParent is set; nil means parent_linkage = DefaultParentLinkage,
	// relative_path = "parent.vhdx", absolute_win32_path = `C:\parent.vhdx`.
	ParentLocator []KeyValue
}

// KeyValue is one parent locator entry.
type KeyValue struct {
	Key, Value string
}

// Header models one 4 KiB VHDX header.
type Header struct {
	Omit           bool   // leave the 4 KiB all zero
	Signature      string // "head"; only the first 4 bytes are used
	BadChecksum    bool   // store a checksum that does not match
	SequenceNumber uint64
	FileWriteGUID  uuid.UUID
	DataWriteGUID  uuid.UUID
	LogGUID        uuid.UUID // uuid.Nil = no log to replay
	LogVersion     uint16    // 0
	Version        uint16    // 1
	LogLength      uint32
	LogOffset      uint64
}

// RegionEntry is one region table entry.
type RegionEntry struct {
	GUID       uuid.UUID
	FileOffset uint64
	Length     uint32
	Flags      uint32 // RegionRequired and any reserved bits, written verbatim
}

// RegionTable models one 64 KiB region table.
type RegionTable struct {
	Omit        bool   // leave the 64 KiB all zero
	Signature   string // "regi"
	BadChecksum bool   // store a checksum that does not match
	Entries     []RegionEntry
}

// MetadataItem is one entry of the metadata table together with its data.
type MetadataItem struct {
	ID    uuid.UUID
	Flags uint32 // MetaIsUser | MetaIsVirtualDisk | MetaIsRequired, plus any reserved bits
	Data  []byte
	// Explicit makes serialisation write Offset and Length verbatim (Data,
	// if any, is written at Offset). Otherwise items with data are packed
	// from 64 KiB, 8-byte aligned, and items without data get 0/0.
	Explicit bool
	Offset   uint32 // relative to the metadata region start
	Length   uint32
}

// MetadataTable models the metadata region's table and items.
type MetadataTable struct {
	Signature string // "metadata"; only the first 8 bytes are used
	Items     []MetadataItem
}

// Block describes one payload block.
type Block struct {
	State uint8
	// FileOffset is the byte offset of the block in the file; the BAT stores
	// FileOffset>>20, so it should be a multiple of 1 MiB. 0 = no space.
	FileOffset uint64
	// Data is written at FileOffset (when non-zero); it may be shorter than
	// the block, the rest of which is left zero.
	Data []byte
}

// SectorBitmap describes one sector bitmap block (one per chunk).
type SectorBitmap struct {
	State      uint8
	FileOffset uint64 // byte offset, multiple of 1 MiB; 0 = no space
	Bits       []byte // written at FileOffset; bit i (byte i/8, bit i%8) = sector i of the chunk
}

// Extent is a byte range of the file.
type Extent struct {
	Offset, Length uint64
}

// Image is a mutable model of a VHDX file. All exported fields may be
// changed before calling Bytes or WriteSparse. The disk geometry (block
// size, sector size, virtual size, fixed/differencing) is fixed at New and
// drives the BAT layout; the metadata items are plain bytes, so a test can
// make them disagree with the geometry.
type Image struct {
	// Signature is the file type identifier signature ("vhdxfile").
	Signature string
	// Creator is stored UTF-16LE in the 512-byte creator field.
	Creator string

	Headers      [2]Header
	RegionTables [2]RegionTable

	// LogOffset and LogLength say where log entries are written. The
	// headers carry their own copy (see MoveLog).
	LogOffset  uint64
	LogLength  uint32
	LogEntries []LogEntry

	// MetadataOffset and MetadataLength say where the metadata table and
	// items are written; the region tables carry their own copy (see
	// MoveMetadata).
	MetadataOffset uint64
	MetadataLength uint32
	Metadata       MetadataTable

	// BATOffset and BATLength say where the BAT is written; the region
	// tables carry their own copy (see MoveBAT).
	BATOffset uint64
	BATLength uint32

	// Blocks holds the payload blocks that differ from the default
	// (NOT_PRESENT for dynamic images, FULLY_PRESENT at the implicit offset
	// for fixed images). Use Block to materialise a default entry.
	Blocks map[int]*Block
	// SectorBitmaps holds sector bitmap blocks by chunk number.
	SectorBitmaps map[int]*SectorBitmap
	// BATOverride replaces the computed BAT entry at an index with a raw
	// value (it may set reserved bits or invalid states).
	BATOverride map[int]uint64

	// FixedPayloadOffset is where block 0 of a fixed image lives; block i
	// is at FixedPayloadOffset + i*BlockSize.
	FixedPayloadOffset uint64

	// ExtraExtents are file ranges the natural file size must cover
	// (regions added by AddRegion with offset 0, Allocate).
	ExtraExtents []Extent

	// FileSize, when non-zero, is the exact size of the serialised file
	// (truncating or zero-extending the natural size).
	FileSize int64

	opts       Options
	nblocks    uint64
	chunkRatio uint64
	batEntries uint64
}

// ChunkRatio returns (2^23 * logicalSectorSize) / blockSize: the number of
// payload blocks described by one sector bitmap block.
func ChunkRatio(logicalSectorSize, blockSize uint32) uint64 {
	return (uint64(SectorsPerChunk) * uint64(logicalSectorSize)) / uint64(blockSize)
}

// BATEntryCount returns the number of BAT entries of a disk.
func BATEntryCount(virtualSize uint64, blockSize, logicalSectorSize uint32, hasParent bool) uint64 {
	cr := ChunkRatio(logicalSectorSize, blockSize)
	nblocks := ceilDiv(virtualSize, uint64(blockSize))
	if hasParent {
		return ceilDiv(nblocks, cr) * (cr + 1)
	}
	if nblocks == 0 {
		return 0
	}
	return nblocks + (nblocks-1)/cr
}

// New returns a valid image with the standard layout. It panics if the
// geometry gives a chunk ratio of zero.
func New(o Options) *Image {
	if o.VirtualSize == 0 {
		o.VirtualSize = 8 * MiB
	}
	if o.BlockSize == 0 {
		o.BlockSize = 1 * MiB
	}
	if o.LogicalSectorSize == 0 {
		o.LogicalSectorSize = 512
	}
	if o.PhysicalSectorSize == 0 {
		o.PhysicalSectorSize = o.LogicalSectorSize
	}
	if o.LogSize == 0 {
		o.LogSize = DefaultLogSize
	}
	if o.Creator == "" {
		o.Creator = "vhdxbuild"
	}
	if o.DiskID == uuid.Nil {
		o.DiskID = DefaultDiskID
	}
	if o.Fixed {
		o.LeaveBlocksAllocated = true
	}
	if o.HasParent && o.ParentLocator == nil {
		o.ParentLocator = []KeyValue{
			{"parent_linkage", FormatParentLinkage(DefaultParentLinkage)},
			{"relative_path", "parent.vhdx"},
			{"absolute_win32_path", `C:\parent.vhdx`},
		}
	}
	cr := ChunkRatio(o.LogicalSectorSize, o.BlockSize)
	if cr == 0 {
		panic(fmt.Sprintf("vhdxbuild: chunk ratio is zero for block size %d and logical sector size %d", o.BlockSize, o.LogicalSectorSize))
	}

	im := &Image{
		Signature:     "vhdxfile",
		Creator:       o.Creator,
		opts:          o,
		chunkRatio:    cr,
		nblocks:       ceilDiv(o.VirtualSize, uint64(o.BlockSize)),
		batEntries:    BATEntryCount(o.VirtualSize, o.BlockSize, o.LogicalSectorSize, o.HasParent),
		Blocks:        map[int]*Block{},
		SectorBitmaps: map[int]*SectorBitmap{},
		BATOverride:   map[int]uint64{},
	}
	im.LogOffset = DefaultLogOffset
	im.LogLength = o.LogSize
	im.MetadataOffset = alignUp(im.LogOffset+uint64(im.LogLength), MiB)
	im.MetadataLength = DefaultMetadataSize
	im.BATOffset = im.MetadataOffset + uint64(im.MetadataLength)
	im.BATLength = uint32(alignUp(im.batEntries*8, MiB))
	if im.batEntries == 0 {
		im.BATLength = MiB
	}
	im.FixedPayloadOffset = alignUp(im.BATOffset+uint64(im.BATLength), MiB)

	for i := range im.Headers {
		im.Headers[i] = Header{
			Signature:      "head",
			SequenceNumber: uint64(i + 1),
			FileWriteGUID:  DefaultFileWriteGUID,
			DataWriteGUID:  DefaultDataWriteGUID,
			Version:        1,
			LogLength:      im.LogLength,
			LogOffset:      im.LogOffset,
		}
	}
	for i := range im.RegionTables {
		im.RegionTables[i] = RegionTable{
			Signature: "regi",
			Entries: []RegionEntry{
				{GUID: BATRegionGUID, FileOffset: im.BATOffset, Length: im.BATLength, Flags: RegionRequired},
				{GUID: MetadataRegionGUID, FileOffset: im.MetadataOffset, Length: im.MetadataLength, Flags: RegionRequired},
			},
		}
	}

	var fp uint32
	if o.LeaveBlocksAllocated {
		fp |= FileParamLeaveBlocksAllocated
	}
	if o.HasParent {
		fp |= FileParamHasParent
	}
	diskID := GUIDBytes(o.DiskID)
	im.Metadata = MetadataTable{
		Signature: "metadata",
		Items: []MetadataItem{
			{ID: FileParametersGUID, Flags: MetaIsRequired, Data: EncodeFileParameters(o.BlockSize, fp)},
			{ID: VirtualDiskSizeGUID, Flags: MetaIsVirtualDisk | MetaIsRequired, Data: EncodeU64(o.VirtualSize)},
			{ID: VirtualDiskIDGUID, Flags: MetaIsVirtualDisk | MetaIsRequired, Data: diskID[:]},
			{ID: LogicalSectorSizeGUID, Flags: MetaIsVirtualDisk | MetaIsRequired, Data: EncodeU32(o.LogicalSectorSize)},
			{ID: PhysicalSectorSizeGUID, Flags: MetaIsVirtualDisk | MetaIsRequired, Data: EncodeU32(o.PhysicalSectorSize)},
		},
	}
	if o.HasParent {
		im.Metadata.Items = append(im.Metadata.Items, MetadataItem{
			ID: ParentLocatorGUID, Flags: MetaIsRequired,
			Data: EncodeParentLocator(VHDXParentLocatorTypeGUID, o.ParentLocator),
		})
	}
	return im
}

// Options returns the effective options (with defaults filled in).
func (im *Image) Options() Options { return im.opts }

// PayloadBlocks returns ceil(VirtualSize / BlockSize).
func (im *Image) PayloadBlocks() uint64 { return im.nblocks }

// BATEntries returns the number of BAT entries the geometry requires.
func (im *Image) BATEntries() uint64 { return im.batEntries }

// PayloadBATIndex returns the BAT index of payload block b.
func (im *Image) PayloadBATIndex(b int) int {
	return b + b/int(im.chunkRatio)
}

// BitmapBATIndex returns the BAT index of the sector bitmap of chunk c.
func (im *Image) BitmapBATIndex(c int) int {
	cr := int(im.chunkRatio)
	return c*(cr+1) + cr
}

// fixedOffset returns the implicit file offset of block b in a fixed image.
func (im *Image) fixedOffset(b int) uint64 {
	return im.FixedPayloadOffset + uint64(b)*uint64(im.opts.BlockSize)
}

// Block returns the model of payload block b, creating it from the
// default (NOT_PRESENT, or FULLY_PRESENT at the implicit offset for fixed
// images) if it is not in Blocks yet. Changes to the result take effect.
func (im *Image) Block(b int) *Block {
	if blk := im.Blocks[b]; blk != nil {
		return blk
	}
	blk := &Block{}
	if im.opts.Fixed && b >= 0 && uint64(b) < im.nblocks {
		blk.State = PayloadFullyPresent
		blk.FileOffset = im.fixedOffset(b)
	}
	im.Blocks[b] = blk
	return blk
}

// SetBlock sets the state of payload block b. FULLY_PRESENT and
// PARTIALLY_PRESENT blocks get file space if they have none (the implicit
// slot in fixed images, otherwise 1 MiB-aligned space at the end of the
// file) and data (at most one block) is written at the block start. Other
// states drop the file offset (set Block(b).FileOffset afterwards to keep
// one) and data.
func (im *Image) SetBlock(b int, state uint8, data []byte) {
	if uint64(len(data)) > uint64(im.opts.BlockSize) {
		panic(fmt.Sprintf("vhdxbuild: SetBlock(%d): %d bytes of data exceed the block size", b, len(data)))
	}
	blk := im.Block(b)
	blk.State = state
	if state == PayloadFullyPresent || state == PayloadPartiallyPresent {
		if blk.FileOffset == 0 {
			blk.FileOffset = im.allocate()
		}
		blk.Data = data
		return
	}
	blk.FileOffset = 0
	blk.Data = nil
}

// SetSectorBitmap sets the state of the sector bitmap block of chunk c.
// A PRESENT bitmap gets 1 MiB of file space if it has none; bits (at most
// 1 MiB) are written at its start. NOT_PRESENT drops the offset and bits.
func (im *Image) SetSectorBitmap(c int, state uint8, bits []byte) {
	if len(bits) > SectorBitmapBlockSize {
		panic("vhdxbuild: SetSectorBitmap: bitmap larger than 1 MiB")
	}
	sb := im.SectorBitmaps[c]
	if sb == nil {
		sb = &SectorBitmap{}
		im.SectorBitmaps[c] = sb
	}
	sb.State = state
	if state == SectorBitmapPresent {
		if sb.FileOffset == 0 {
			sb.FileOffset = im.allocate()
		}
		sb.Bits = bits
		return
	}
	sb.FileOffset = 0
	sb.Bits = nil
}

// MarkSectorsPresent sets the bits of count logical sectors starting at
// virtual sector first in the sector bitmaps, making the bitmaps of the
// chunks concerned PRESENT (allocating them) first when needed.
func (im *Image) MarkSectorsPresent(first, count uint64) {
	for s := first; s < first+count; s++ {
		c := int(s / SectorsPerChunk)
		sb := im.SectorBitmaps[c]
		if sb == nil || sb.State != SectorBitmapPresent {
			im.SetSectorBitmap(c, SectorBitmapPresent, nil)
			sb = im.SectorBitmaps[c]
		}
		if len(sb.Bits) < SectorBitmapBlockSize {
			full := make([]byte, SectorBitmapBlockSize)
			copy(full, sb.Bits)
			sb.Bits = full
		}
		i := s % SectorsPerChunk
		sb.Bits[i/8] |= 1 << (i % 8)
	}
}

// Allocate reserves size bytes of file space at the (1 MiB aligned) end of
// the file, records it in ExtraExtents and returns its offset.
func (im *Image) Allocate(size uint64) uint64 {
	off := im.allocate()
	im.ExtraExtents = append(im.ExtraExtents, Extent{off, size})
	return off
}

// allocate returns the 1 MiB-aligned end of the file; the caller makes the
// space part of the file by pointing a block, bitmap or extent at it.
func (im *Image) allocate() uint64 {
	return alignUp(im.naturalSize(), MiB)
}

// AddRegion appends an entry to both region tables and returns its
// offset. An offset of 0 allocates length bytes at the end of the file
// (so the region lies inside the file); any other offset is used as is,
// which can make regions overlap or point past the end of the file.
func (im *Image) AddRegion(guid uuid.UUID, offset uint64, length uint32, required bool) uint64 {
	if offset == 0 {
		offset = im.Allocate(uint64(length))
	}
	var flags uint32
	if required {
		flags = RegionRequired
	}
	for i := range im.RegionTables {
		im.RegionTables[i].Entries = append(im.RegionTables[i].Entries,
			RegionEntry{GUID: guid, FileOffset: offset, Length: length, Flags: flags})
	}
	return offset
}

// UpdateRegion sets offset and length of every entry with that GUID in
// both region tables.
func (im *Image) UpdateRegion(guid uuid.UUID, offset uint64, length uint32) {
	for i := range im.RegionTables {
		for j := range im.RegionTables[i].Entries {
			e := &im.RegionTables[i].Entries[j]
			if e.GUID == guid {
				e.FileOffset = offset
				e.Length = length
			}
		}
	}
}

// RemoveRegion deletes every entry with that GUID from both region tables.
func (im *Image) RemoveRegion(guid uuid.UUID) {
	for i := range im.RegionTables {
		im.RegionTables[i].Entries = slices.DeleteFunc(im.RegionTables[i].Entries,
			func(e RegionEntry) bool { return e.GUID == guid })
	}
}

// MoveBAT moves the BAT to offset, updating BATOffset and the region
// entries. The fixed-image payload offset is left unchanged.
func (im *Image) MoveBAT(offset uint64) {
	im.BATOffset = offset
	im.UpdateRegion(BATRegionGUID, offset, im.BATLength)
}

// MoveMetadata moves the metadata region to offset, updating
// MetadataOffset and the region entries.
func (im *Image) MoveMetadata(offset uint64) {
	im.MetadataOffset = offset
	im.UpdateRegion(MetadataRegionGUID, offset, im.MetadataLength)
}

// MoveLog sets where the log lives, in the image and in both headers.
func (im *Image) MoveLog(offset uint64, length uint32) {
	im.LogOffset, im.LogLength = offset, length
	for i := range im.Headers {
		im.Headers[i].LogOffset, im.Headers[i].LogLength = offset, length
	}
}

// AddMetadataItem appends an item to the metadata table (even if one with
// the same GUID exists, which makes duplicates possible).
func (im *Image) AddMetadataItem(guid uuid.UUID, data []byte, flags uint32) {
	im.Metadata.Items = append(im.Metadata.Items, MetadataItem{ID: guid, Flags: flags, Data: data})
}

// MetadataItem returns the first item with that GUID, or nil.
func (im *Image) MetadataItem(guid uuid.UUID) *MetadataItem {
	for i := range im.Metadata.Items {
		if im.Metadata.Items[i].ID == guid {
			return &im.Metadata.Items[i]
		}
	}
	return nil
}

// RemoveMetadataItem deletes every item with that GUID.
func (im *Image) RemoveMetadataItem(guid uuid.UUID) {
	im.Metadata.Items = slices.DeleteFunc(im.Metadata.Items,
		func(it MetadataItem) bool { return it.ID == guid })
}

// currentHeader returns the index of the header with the highest sequence
// number among those not omitted (header 1 on ties), or 0.
func (im *Image) currentHeader() int {
	if im.Headers[0].Omit {
		return 1
	}
	if !im.Headers[1].Omit && im.Headers[1].SequenceNumber > im.Headers[0].SequenceNumber {
		return 1
	}
	return 0
}

func ceilDiv(a, b uint64) uint64 {
	if a == 0 {
		return 0
	}
	return (a-1)/b + 1
}

func alignUp(v, a uint64) uint64 {
	return (v + a - 1) / a * a
}
