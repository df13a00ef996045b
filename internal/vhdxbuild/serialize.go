package vhdxbuild

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C (Castagnoli) of b. Callers zero the
// checksum field first.
func Checksum(b []byte) uint32 {
	return crc32.Checksum(b, castagnoli)
}

// Layout describes where serialisation puts things.
type Layout struct {
	FileSize       uint64 // size of Bytes(): FileSize override or natural size
	NaturalSize    uint64 // end of the last structure or allocated block
	LogOffset      uint64
	LogLength      uint32
	LogEntries     []LogEntryLayout
	MetadataOffset uint64
	MetadataLength uint32
	// MetadataItems gives, per entry of Metadata.Items, the Offset and
	// Length written in the metadata table.
	MetadataItems      []Extent
	BATOffset          uint64
	BATLength          uint32
	BATEntries         uint64
	ChunkRatio         uint64
	PayloadBlocks      uint64
	SectorBitmapBlocks uint64 // ceil(PayloadBlocks / ChunkRatio)
	FixedPayloadOffset uint64
}

// LogEntryLayout is the resolved placement of one log entry.
type LogEntryLayout struct {
	Offset uint32 // inside the log
	Length uint32 // EntryLength
	Tail   uint32
}

// Layout resolves automatic offsets and returns where everything goes.
// It panics on the errors WriteSparse would return.
func (im *Image) Layout() Layout {
	l := Layout{
		NaturalSize:        im.naturalSize(),
		LogOffset:          im.LogOffset,
		LogLength:          im.LogLength,
		MetadataOffset:     im.MetadataOffset,
		MetadataLength:     im.MetadataLength,
		BATOffset:          im.BATOffset,
		BATLength:          im.BATLength,
		BATEntries:         im.batEntries,
		ChunkRatio:         im.chunkRatio,
		PayloadBlocks:      im.nblocks,
		SectorBitmapBlocks: ceilDiv(im.nblocks, im.chunkRatio),
		FixedPayloadOffset: im.FixedPayloadOffset,
	}
	l.FileSize = uint64(im.Size())
	logs, err := im.resolveLog()
	if err != nil {
		panic(err)
	}
	for _, r := range logs {
		l.LogEntries = append(l.LogEntries, LogEntryLayout{r.offset, r.length, r.tail})
	}
	items, err := im.resolveMetadata()
	if err != nil {
		panic(err)
	}
	l.MetadataItems = items
	return l
}

// naturalSize is the end of the furthest structure, allocated block or
// extra extent.
func (im *Image) naturalSize() uint64 {
	end := uint64(RegionTable2Offset + RegionTableSize)
	grow := func(off, length uint64) {
		end = max(end, off+length)
	}
	grow(im.LogOffset, uint64(im.LogLength))
	grow(im.MetadataOffset, uint64(im.MetadataLength))
	grow(im.BATOffset, uint64(im.BATLength))
	if im.opts.Fixed && im.nblocks > 0 {
		grow(im.FixedPayloadOffset, im.nblocks*uint64(im.opts.BlockSize))
	}
	for _, b := range im.Blocks {
		if b.FileOffset != 0 {
			grow(b.FileOffset, uint64(im.opts.BlockSize))
		}
	}
	for _, sb := range im.SectorBitmaps {
		if sb.FileOffset != 0 {
			grow(sb.FileOffset, SectorBitmapBlockSize)
		}
	}
	for _, x := range im.ExtraExtents {
		grow(x.Offset, x.Length)
	}
	return end
}

// Size returns the size of the serialised file: FileSize if set,
// otherwise the natural size.
func (im *Image) Size() int64 {
	if im.FileSize != 0 {
		return im.FileSize
	}
	return int64(im.naturalSize())
}

// EncodeBATEntry packs a state and a byte file offset into a BAT entry
// (the offset's low 20 bits are dropped).
func EncodeBATEntry(state uint8, fileOffset uint64) uint64 {
	return uint64(state&7) | fileOffset&^(MiB-1)
}

// BATEntry returns the value serialisation writes at BAT index idx.
func (im *Image) BATEntry(idx int) uint64 {
	if v, ok := im.BATOverride[idx]; ok {
		return v
	}
	cr := int(im.chunkRatio)
	c, r := idx/(cr+1), idx%(cr+1)
	if r == cr {
		if sb := im.SectorBitmaps[c]; sb != nil {
			return EncodeBATEntry(sb.State, sb.FileOffset)
		}
		return 0
	}
	b := c*cr + r
	if blk := im.Blocks[b]; blk != nil {
		return EncodeBATEntry(blk.State, blk.FileOffset)
	}
	if im.opts.Fixed && uint64(b) < im.nblocks {
		return EncodeBATEntry(PayloadFullyPresent, im.fixedOffset(b))
	}
	return 0
}

// Bytes serialises the whole file. It panics on the errors WriteSparse
// would return.
func (im *Image) Bytes() []byte {
	buf := make([]byte, im.Size())
	if err := im.WriteSparse(sliceWriter(buf)); err != nil {
		panic(err)
	}
	return buf
}

// sliceWriter is an io.WriterAt over a fixed buffer that silently drops
// whatever falls outside it (truncated images).
type sliceWriter []byte

func (s sliceWriter) WriteAt(p []byte, off int64) (int, error) {
	if off < int64(len(s)) {
		copy(s[off:], p)
	}
	return len(p), nil
}

// WriteSparse writes every non-zero part of the file to w and nothing
// else: the caller provides a zeroed destination (for a file: write, then
// Truncate to Size()). Memory use is independent of the virtual size; the
// BAT is written in windows of at most 1 MiB around non-zero entries.
func (im *Image) WriteSparse(w io.WriterAt) error {
	write := func(b []byte, off uint64) error {
		_, err := w.WriteAt(b, int64(off))
		return err
	}

	// File type identifier.
	id := make([]byte, 8+512)
	copy(id[0:8], im.Signature)
	copy(id[8:], EncodeUTF16(im.Creator))
	if err := write(id, FileIdentifierOffset); err != nil {
		return err
	}

	// Headers.
	for i, off := range []uint64{Header1Offset, Header2Offset} {
		if im.Headers[i].Omit {
			continue
		}
		if err := write(im.Headers[i].encode(), off); err != nil {
			return err
		}
	}

	// Region tables.
	for i, off := range []uint64{RegionTable1Offset, RegionTable2Offset} {
		if im.RegionTables[i].Omit {
			continue
		}
		rt, err := im.RegionTables[i].encode()
		if err != nil {
			return err
		}
		if err := write(rt, off); err != nil {
			return err
		}
	}

	// Log entries.
	logs, err := im.resolveLog()
	if err != nil {
		return err
	}
	for i, r := range logs {
		e := &im.LogEntries[i]
		b := e.Encode(r.tail, r.guid, r.flushed, r.last)
		n := len(b) / LogSectorSize
		if e.WrittenSectors > 0 && e.WrittenSectors < n {
			n = e.WrittenSectors
		}
		for k := 0; k < n; k++ {
			pos := (uint64(r.offset) + uint64(k)*LogSectorSize) % uint64(im.LogLength)
			if err := write(b[k*LogSectorSize:(k+1)*LogSectorSize], im.LogOffset+pos); err != nil {
				return err
			}
		}
	}

	// Metadata table and items.
	items, err := im.resolveMetadata()
	if err != nil {
		return err
	}
	mt := make([]byte, MetadataTableSize)
	copy(mt[0:8], im.Metadata.Signature)
	binary.LittleEndian.PutUint16(mt[10:], uint16(len(im.Metadata.Items)))
	for i, it := range im.Metadata.Items {
		e := mt[32+32*i:]
		PutGUID(e[0:16], it.ID)
		binary.LittleEndian.PutUint32(e[16:], uint32(items[i].Offset))
		binary.LittleEndian.PutUint32(e[20:], uint32(items[i].Length))
		binary.LittleEndian.PutUint32(e[24:], it.Flags)
	}
	if err := write(mt, im.MetadataOffset); err != nil {
		return err
	}
	for i, it := range im.Metadata.Items {
		if len(it.Data) > 0 {
			if err := write(it.Data, im.MetadataOffset+items[i].Offset); err != nil {
				return err
			}
		}
	}

	// BAT.
	if err := im.writeBAT(write); err != nil {
		return err
	}

	// Sector bitmaps, then payload data.
	for _, c := range sortedKeys(im.SectorBitmaps) {
		sb := im.SectorBitmaps[c]
		if sb.FileOffset != 0 && len(sb.Bits) > 0 {
			if err := write(sb.Bits, sb.FileOffset); err != nil {
				return err
			}
		}
	}
	for _, b := range sortedKeys(im.Blocks) {
		blk := im.Blocks[b]
		if blk.FileOffset != 0 && len(blk.Data) > 0 {
			if err := write(blk.Data, blk.FileOffset); err != nil {
				return err
			}
		}
	}
	return nil
}

// batWindow is the number of BAT entries handled at once (1 MiB).
const batWindow = MiB / 8

func (im *Image) writeBAT(write func([]byte, uint64) error) error {
	windows := map[int]bool{}
	if im.opts.Fixed {
		for w := 0; uint64(w)*batWindow < im.batEntries; w++ {
			windows[w] = true
		}
	}
	for b := range im.Blocks {
		windows[im.PayloadBATIndex(b)/batWindow] = true
	}
	for c := range im.SectorBitmaps {
		windows[im.BitmapBATIndex(c)/batWindow] = true
	}
	for idx := range im.BATOverride {
		windows[idx/batWindow] = true
	}
	buf := make([]byte, batWindow*8)
	for _, w := range sortedKeys(windows) {
		if w < 0 {
			continue
		}
		first, last := -1, -1
		for k := 0; k < batWindow; k++ {
			v := im.BATEntry(w*batWindow + k)
			binary.LittleEndian.PutUint64(buf[8*k:], v)
			if v != 0 {
				if first < 0 {
					first = k
				}
				last = k
			}
		}
		if first < 0 {
			continue
		}
		off := im.BATOffset + uint64(w*batWindow+first)*8
		if err := write(buf[8*first:8*(last+1)], off); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// encode returns the 4 KiB header with its checksum.
func (h *Header) encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, HeaderSize)
	copy(b[0:4], h.Signature)
	le.PutUint64(b[8:], h.SequenceNumber)
	PutGUID(b[16:32], h.FileWriteGUID)
	PutGUID(b[32:48], h.DataWriteGUID)
	PutGUID(b[48:64], h.LogGUID)
	le.PutUint16(b[64:], h.LogVersion)
	le.PutUint16(b[66:], h.Version)
	le.PutUint32(b[68:], h.LogLength)
	le.PutUint64(b[72:], h.LogOffset)
	sum := Checksum(b)
	if h.BadChecksum {
		sum ^= 0xFFFFFFFF
	}
	le.PutUint32(b[4:], sum)
	return b
}

// encode returns the 64 KiB region table with its checksum.
func (rt *RegionTable) encode() ([]byte, error) {
	if 16+32*len(rt.Entries) > RegionTableSize {
		return nil, fmt.Errorf("vhdxbuild: %d region entries do not fit in a region table", len(rt.Entries))
	}
	le := binary.LittleEndian
	b := make([]byte, RegionTableSize)
	copy(b[0:4], rt.Signature)
	le.PutUint32(b[8:], uint32(len(rt.Entries)))
	for i, e := range rt.Entries {
		p := b[16+32*i:]
		PutGUID(p[0:16], e.GUID)
		le.PutUint64(p[16:], e.FileOffset)
		le.PutUint32(p[24:], e.Length)
		le.PutUint32(p[28:], e.Flags)
	}
	sum := Checksum(b)
	if rt.BadChecksum {
		sum ^= 0xFFFFFFFF
	}
	le.PutUint32(b[4:], sum)
	return b, nil
}

// resolveMetadata returns the Offset/Length written for each item.
func (im *Image) resolveMetadata() ([]Extent, error) {
	if 32+32*len(im.Metadata.Items) > MetadataTableSize {
		return nil, fmt.Errorf("vhdxbuild: %d metadata items do not fit in the metadata table", len(im.Metadata.Items))
	}
	out := make([]Extent, len(im.Metadata.Items))
	next := uint64(MetadataTableSize)
	for i, it := range im.Metadata.Items {
		switch {
		case it.Explicit:
			out[i] = Extent{uint64(it.Offset), uint64(it.Length)}
		case len(it.Data) > 0:
			next = alignUp(next, 8)
			out[i] = Extent{next, uint64(len(it.Data))}
			next += uint64(len(it.Data))
		}
	}
	if next > uint64(im.MetadataLength) {
		return nil, fmt.Errorf("vhdxbuild: metadata items need %d bytes, region is %d", next, im.MetadataLength)
	}
	return out, nil
}
