package vhdx

import (
	"fmt"
	"io"
	"runtime"
	"sync"
)

// BlockState is the state field of a BAT entry.
type BlockState uint8

// Payload block states (MS-VHDX 2.5.1.1). A sector bitmap entry uses
// NotPresent or SectorBitmapPresent.
const (
	NotPresent          BlockState = 0
	Undefined           BlockState = 1
	Zero                BlockState = 2
	Unmapped            BlockState = 3
	FullyPresent        BlockState = 6
	PartiallyPresent    BlockState = 7
	SectorBitmapPresent BlockState = 6
)

var stateNames = [8]string{"not_present", "undefined", "zero", "unmapped", "invalid_4", "invalid_5", "fully_present", "partially_present"}

// String returns the state's name as used in reports, e.g. "fully_present".
func (s BlockState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("invalid_%d", s)
}

// valid reports whether s is a defined payload block state.
func (s BlockState) valid() bool { return s <= Unmapped || s == FullyPresent || s == PartiallyPresent }

// BlockStates are the payload block states in report order.
var BlockStates = []BlockState{NotPresent, Undefined, Zero, Unmapped, FullyPresent, PartiallyPresent}

// StateCounts counts BAT entries by state, indexed by BlockState.
type StateCounts [8]uint64

// Map returns the counts keyed by state name, for every payload state.
func (c StateCounts) Map() map[string]uint64 {
	m := make(map[string]uint64, len(BlockStates))
	for _, s := range BlockStates {
		m[s.String()] = c[s]
	}
	return m
}

// BATEntry is one decoded entry of the block allocation table.
type BATEntry struct {
	Index        uint64     `json:"index"`
	Offset       int64      `json:"offset"` // file offset of the entry itself
	Raw          uint64     `json:"raw,string"`
	State        BlockState `json:"state"`
	FileOffset   int64      `json:"file_offset"` // FileOffsetMB in bytes
	Reserved     uint32     `json:"reserved"`    // bits 3-19
	SectorBitmap bool       `json:"sector_bitmap"`
	Block        uint64     `json:"block"` // payload block number, or chunk number for a sector bitmap entry
}

const (
	batPageEntries = 8192 // 64 KiB pages
	batCachePages  = 64   // at most 4 MiB of BAT held
)

// BAT is the block allocation table. Entries are read from the file on
// demand, a page at a time, and only a bounded number of pages is kept.
type BAT struct {
	Offset     int64  `json:"offset"`
	Length     int64  `json:"length"`
	EntryCount uint64 `json:"entry_count"`
	ChunkRatio uint64 `json:"chunk_ratio"`
	BlockCount uint64 `json:"payload_blocks"`

	r     io.ReaderAt
	mu    sync.Mutex
	pages map[uint64][]uint64
	order []uint64 // page numbers, oldest first
	raw   []byte   // scratch for page reads, under mu
}

func newBAT(r io.ReaderAt, region RegionEntry, m *Metadata) *BAT {
	b := &BAT{Offset: fileEnd(region.FileOffset, 0), Length: int64(region.Length), ChunkRatio: m.ChunkRatio(), BlockCount: m.BlockCount(), r: r, pages: map[uint64][]uint64{}}
	chunks := (b.BlockCount + b.ChunkRatio - 1) / b.ChunkRatio
	if m.HasParent {
		b.EntryCount = chunks * (b.ChunkRatio + 1)
	} else {
		b.EntryCount = b.BlockCount + (b.BlockCount-1)/b.ChunkRatio
	}
	return b
}

// BlockIndex returns the BAT index of payload block n.
func (b *BAT) BlockIndex(n uint64) uint64 { return n + n/b.ChunkRatio }

// BitmapIndex returns the BAT index of the sector bitmap entry of chunk c.
func (b *BAT) BitmapIndex(c uint64) uint64 { return c*(b.ChunkRatio+1) + b.ChunkRatio }

// Entry returns BAT entry i.
func (b *BAT) Entry(i uint64) (BATEntry, error) {
	if i >= b.EntryCount {
		return BATEntry{}, fmt.Errorf("vhdx: BAT index %d out of range (%d entries)", i, b.EntryCount)
	}
	page, err := b.page(i / batPageEntries)
	if err != nil {
		return BATEntry{}, err
	}
	return b.decode(i, page[i%batPageEntries]), nil
}

// Block returns the BAT entry of payload block n.
func (b *BAT) Block(n uint64) (BATEntry, error) { return b.Entry(b.BlockIndex(n)) }

func (b *BAT) decode(i uint64, raw uint64) BATEntry {
	period := b.ChunkRatio + 1
	return b.decodeAt(i, raw, i%period, i/period)
}

// decodeAt decodes entry i given its place pos in chunk period chunk.
func (b *BAT) decodeAt(i, raw, pos, chunk uint64) BATEntry {
	e := BATEntry{Index: i, Offset: b.Offset + 8*int64(i), Raw: raw, State: BlockState(raw & 7), FileOffset: int64(raw>>20) << 20, Reserved: uint32(raw>>3) & (1<<17 - 1)}
	e.SectorBitmap = pos == b.ChunkRatio
	if e.SectorBitmap {
		e.Block = chunk
	} else {
		e.Block = chunk*b.ChunkRatio + pos
	}
	return e
}

// page returns page p of the BAT, reading it if it is not cached.
func (b *BAT) page(p uint64) ([]uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if pg, ok := b.pages[p]; ok {
		return pg, nil
	}
	first := p * batPageEntries
	n := min(uint64(batPageEntries), b.EntryCount-first)
	var pg []uint64
	if len(b.order) >= batCachePages {
		pg = b.pages[b.order[0]] // reuse the evicted page's memory
		delete(b.pages, b.order[0])
		b.order = b.order[1:]
	}
	if uint64(cap(pg)) < n {
		pg = make([]uint64, n)
	}
	if b.raw == nil {
		b.raw = make([]byte, 8*batPageEntries)
	}
	pg = pg[:n]
	if err := b.read(pg, first, b.raw); err != nil {
		return nil, err
	}
	b.pages[p] = pg
	b.order = append(b.order, p)
	return pg, nil
}

// read reads len(out) raw entries starting at index first into out,
// uncached, through buf (at least 8*len(out) bytes).
func (b *BAT) read(out []uint64, first uint64, buf []byte) error {
	buf = buf[:8*len(out)]
	if err := readAt(b.r, buf, b.Offset+8*int64(first), "BAT"); err != nil {
		return err
	}
	for i := range out {
		out[i] = le.Uint64(buf[8*i:])
	}
	return nil
}

// ReadEntries reads the raw little-endian entries [first, first+len(p)/8)
// of the table into p with one read of the file. len(p) must be a multiple
// of 8. It lets a caller scan a large table in a few big slices.
func (b *BAT) ReadEntries(first uint64, p []byte) error {
	n := uint64(len(p) / 8)
	if len(p)%8 != 0 || first > b.EntryCount || n > b.EntryCount-first {
		return fmt.Errorf("vhdx: BAT entries %d to %d do not fit the %d entries (or a partial entry was asked for)", first, first+n, b.EntryCount)
	}
	return readAt(b.r, p, b.Offset+8*int64(first), "BAT")
}

// scanEntries is how many entries walkStored reads at a time (16 MiB).
const scanEntries = 2 << 20

// walkStored is Walk over the entries that can point at file data or are
// malformed. Without decoding them it skips payload entries that are a bare
// state below FullyPresent and empty sector bitmap entries (reserved bits
// clear in both): most of a sparse table.
func (b *BAT) walkStored(fn func(BATEntry) error) error {
	period := b.ChunkRatio + 1
	buf := make([]byte, 8*min(scanEntries, b.EntryCount))
	for first := uint64(0); first < b.EntryCount; first += scanEntries {
		p := buf[:8*min(scanEntries, b.EntryCount-first)]
		if err := b.ReadEntries(first, p); err != nil {
			return err
		}
		pos, chunk := first%period, first/period
		for j := 0; j < len(p); j += 8 {
			raw := le.Uint64(p[j:])
			bitmap := pos == b.ChunkRatio
			if raw>>3&(1<<17-1) != 0 || raw&7 > uint64(Unmapped) || bitmap && raw&7 != uint64(NotPresent) {
				if err := fn(b.decodeAt(first+uint64(j/8), raw, pos, chunk)); err != nil {
					return err
				}
			}
			if pos++; pos == period {
				pos, chunk = 0, chunk+1
			}
		}
	}
	return nil
}

// Walk calls fn for every BAT entry in order, streaming the table through a
// fixed-size buffer without filling the page cache. It stops at the first
// error from fn or from reading.
func (b *BAT) Walk(fn func(BATEntry) error) error { return b.WalkRange(0, b.EntryCount, fn) }

// WalkRange is Walk over the entries with indexes in [first, end).
func (b *BAT) WalkRange(first, end uint64, fn func(BATEntry) error) error {
	end = min(end, b.EntryCount)
	period := b.ChunkRatio + 1
	pos, chunk := first%period, first/period
	var buf []byte
	var entries []uint64
	for ; first < end; first += batReadEntries {
		n := min(batReadEntries, end-first)
		if buf == nil {
			buf, entries = make([]byte, 8*n), make([]uint64, n)
		}
		raw := entries[:n]
		if err := b.read(raw, first, buf); err != nil {
			return err
		}
		for j, v := range raw {
			if err := fn(b.decodeAt(first+uint64(j), v, pos, chunk)); err != nil {
				return err
			}
			if pos++; pos == period {
				pos, chunk = 0, chunk+1
			}
		}
	}
	return nil
}

// Counts returns the number of payload blocks in each state and the number
// of sector bitmap entries in each state. It reads the whole table once,
// through fixed-size buffers, splitting the work across CPUs.
func (b *BAT) Counts() (blocks, bitmaps StateCounts, err error) {
	const span = 1 << 20 // entries per worker task (8 MiB of table)
	workers := min(runtime.GOMAXPROCS(0), 8)
	tasks := make(chan uint64)
	type result struct {
		blocks, bitmaps StateCounts
		err             error
	}
	results := make(chan result, workers)
	for w := 0; w < workers; w++ {
		go func() {
			var r result
			buf := make([]byte, 8*batReadEntries)
			for first := range tasks {
				if r.err == nil {
					r.err = b.countRange(first, min(first+span, b.EntryCount), buf, &r.blocks, &r.bitmaps)
				}
			}
			results <- r
		}()
	}
	for first := uint64(0); first < b.EntryCount; first += span {
		tasks <- first
	}
	close(tasks)
	for w := 0; w < workers; w++ {
		r := <-results
		for s := range blocks {
			blocks[s] += r.blocks[s]
			bitmaps[s] += r.bitmaps[s]
		}
		if err == nil {
			err = r.err
		}
	}
	return blocks, bitmaps, err
}

// batReadEntries is how many entries one read of the table covers (1 MiB).
const batReadEntries = 128 * 1024

// countRange adds the states of entries [first, end) to blocks and bitmaps.
func (b *BAT) countRange(first, end uint64, buf []byte, blocks, bitmaps *StateCounts) error {
	period := b.ChunkRatio + 1
	for ; first < end; first += batReadEntries {
		n := min(batReadEntries, end-first)
		p := buf[:8*n]
		if err := readAt(b.r, p, b.Offset+8*int64(first), "BAT"); err != nil {
			return err
		}
		if isZero(p) {
			nb := bitmapsBetween(first, first+n, period)
			blocks[NotPresent] += n - nb - b.padding(first, first+n)
			bitmaps[NotPresent] += nb
			continue
		}
		// pos is the index's place in its chunk period; the sector
		// bitmap entry is the last of each period.
		pos := first % period
		payloadEnd := b.payloadEnd()
		for j := uint64(0); j < n; j++ {
			s := p[8*j] & 7
			if pos == b.ChunkRatio {
				bitmaps[s]++
				pos = 0
			} else {
				if first+j < payloadEnd {
					blocks[s]++
				}
				pos++
			}
		}
	}
	return nil
}

// payloadEnd is the index after the last payload block's entry. A
// differencing disk's BAT pads its last chunk with unused entries from
// there up to the chunk's sector bitmap entry.
func (b *BAT) payloadEnd() uint64 {
	if b.BlockCount == 0 {
		return 0
	}
	return b.BlockIndex(b.BlockCount-1) + 1
}

// padding counts the unused payload positions in [lo, hi).
func (b *BAT) padding(lo, hi uint64) uint64 {
	lo = max(lo, b.payloadEnd())
	if lo >= hi {
		return 0
	}
	return hi - lo - bitmapsBetween(lo, hi, b.ChunkRatio+1)
}

// bitmapsBetween counts the sector bitmap indexes in [lo, hi): those i
// with i%period == period-1, of which there are x/period below x.
func bitmapsBetween(lo, hi, period uint64) uint64 {
	return hi/period - lo/period
}
