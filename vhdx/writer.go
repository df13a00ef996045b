package vhdx

import (
	"bytes"
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"
)

// AlignmentError is returned by Writer.WriteAt for a write whose offset or
// length is not a multiple of the logical sector size. It wraps
// ErrWriteAlignment.
type AlignmentError struct {
	Offset     int64
	Length     int
	SectorSize uint32
}

func (e *AlignmentError) Error() string {
	return fmt.Sprintf("vhdx: write of %d bytes at %d is not aligned to the %d-byte logical sector (%v)", e.Length, e.Offset, e.SectorSize, ErrWriteAlignment)
}

// Unwrap returns ErrWriteAlignment.
func (e *AlignmentError) Unwrap() error { return ErrWriteAlignment }

// Writer writes to the virtual disk of a VHDX image in place, keeping the
// file consistent at every step: new blocks are written and flushed before
// the BAT (and, in a differencing disk, the sector bitmap) is changed
// through the metadata log, so an interrupted write reads as either its old
// or its new content once the log is replayed (MS-VHDX 2.3).
//
// A Writer is safe for concurrent use; writes are serialised.
type Writer struct {
	mu sync.Mutex
	f  File

	size   int64 // current file size
	synced int64 // file size at the last Sync
	end    int64 // where the next block is allocated: 1 MiB aligned, >= size

	cur int // index (0 or 1) of the current header
	hdr Header
	// modified reports the session's first header update (a new
	// FileWriteGuid, and DataWriteGuid) is done.
	modified, dataChanged bool
	log                   *logWriter // nil until the log is used

	virtualSize int64
	blockSize   int64
	lss         int64
	hasParent   bool
	chunkRatio  uint64
	batOffset   int64
	batEntries  uint64

	sectors map[int64][]byte // cached 4 KiB BAT and sector bitmap sectors, by file offset
	img     *Image           // cached read view, nil after a write
	closed  bool
	broken  error // an I/O error left the file in an unknown state
}

const maxCachedSectors = 8192 // 32 MiB of BAT and bitmap sectors

// OpenWriter opens the image in f, which holds size bytes, for writing. A
// dirty log is replayed into the file first (after the header update the
// specification requires before any modification); nothing else is written
// until the first WriteAt.
func OpenWriter(f File, size int64) (*Writer, error) {
	var probe [1]byte
	if n, _ := f.ReadAt(probe[:], size); n > 0 {
		return nil, fmt.Errorf("vhdx: open for writing: the file is longer than the %d bytes given: %w", size, ErrCorrupt)
	}
	img, err := Open(f, size)
	if err != nil {
		return nil, err
	}
	if img.readErr != nil {
		return nil, img.readErr
	}
	h := img.CurrentHeader()
	m := img.Metadata
	w := &Writer{
		f: f, size: size, synced: size, cur: img.Current, hdr: *h,
		virtualSize: int64(m.VirtualSize), blockSize: int64(m.BlockSize), lss: int64(m.LogicalSectorSize),
		hasParent: m.HasParent, chunkRatio: m.ChunkRatio(),
		batOffset: img.BAT.Offset, batEntries: img.BAT.EntryCount, sectors: map[int64][]byte{},
	}
	logEnd, ok := spanEnd(h.LogOffset, uint64(h.LogLength))
	switch {
	case h.LogLength < mib || h.LogLength%mib != 0 || h.LogOffset%mib != 0 || h.LogOffset < headerAreaSize ||
		!ok || logEnd > uint64(img.FileSize()):
		return nil, formatErr(ErrUnsupported, "header", h.Offset+68, "the log (offset %d, length %d) cannot be written to", h.LogOffset, h.LogLength)
	case w.batOffset%mib != 0:
		return nil, formatErr(ErrCorrupt, "BAT region", w.batOffset, "region offset is not 1 MiB aligned")
	}
	// Nothing is written to an image whose structures overlap or whose log
	// cannot be replayed safely (a log GUID without any entry of that log
	// is what a crash leaves between the header update and the first
	// entry: nothing to replay, and only a warning).
	if err := writeRefusal(img); err != nil {
		return nil, err
	}
	// The structures of the image as replayed: replay grows the file no
	// further (a log may claim any LastFileOffset).
	end, err := w.usedEnd(img)
	if err != nil {
		return nil, err
	}
	if img.Replay != nil {
		if err := w.replay(img, int64(roundUp(uint64(max(end, w.size)), mib))); err != nil {
			return nil, err
		}
	}
	w.end = int64(roundUp(uint64(max(end, w.size)), mib))
	return w, nil
}

// replay writes the log's changes into the file: the header is updated
// first (new FileWriteGuid, same log), then every replayed range is written
// as it reads after the in-memory replay, the file is flushed, and the log
// is marked empty. The file grows to the replayed size but not beyond
// limit, the end of the structures the replayed image uses: what a log
// writes beyond them is unused space.
func (w *Writer) replay(img *Image, limit int64) error {
	if err := w.updateHeader(true, uuid.New(), w.hdr.DataWriteGUID, w.hdr.LogGUID); err != nil {
		return err
	}
	w.modified = true
	if fs := min(img.FileSize(), limit); fs > w.size {
		if err := w.f.Truncate(fs); err != nil {
			return w.fail(err)
		}
		w.size = fs
	}
	buf := make([]byte, min(mib, maxReplayChange(img.Replay)))
	for _, c := range img.Replay.Changes {
		end := min(c.Offset+c.Length, w.size)
		if c.Zero {
			end = min(end, img.Size) // the file's extension reads zeros already
		}
		for at := c.Offset; at < end; at += int64(len(buf)) {
			b := buf[:min(int64(len(buf)), end-at)]
			if err := readAt(img.view, b, at, "replayed log change"); err != nil {
				return w.fail(err)
			}
			if _, err := w.f.WriteAt(b, at); err != nil {
				return w.fail(err)
			}
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	return w.updateHeader(false, w.hdr.FileWriteGUID, w.hdr.DataWriteGUID, uuid.Nil)
}

// maxReplayChange returns the length of the longest replayed change.
func maxReplayChange(r *Replay) int64 {
	n := int64(0)
	for _, c := range r.Changes {
		n = max(n, c.Length)
	}
	return n
}

// usedEnd returns the end of the last structure in the file: regions, log,
// and every block the BAT marks present.
func (w *Writer) usedEnd(img *Image) (int64, error) {
	src := img.view // as replayed
	end := fileEnd(img.CurrentHeader().LogOffset, uint64(img.CurrentHeader().LogLength))
	for _, e := range img.Regions.Entries {
		end = max(end, fileEnd(e.FileOffset, uint64(e.Length)))
	}
	period := w.chunkRatio + 1
	buf := make([]byte, mib)
	for first := uint64(0); first < w.batEntries; first += mib / 8 {
		n := min(mib/8, w.batEntries-first)
		p := buf[:8*n]
		if err := readAt(src, p, w.batOffset+8*int64(first), "BAT"); err != nil {
			return 0, err
		}
		if isZero(p) {
			continue
		}
		for j := uint64(0); j < n; j++ {
			raw := le.Uint64(p[8*j:])
			state, off := BlockState(raw&7), int64(raw>>20)<<20
			bitmap := (first+j)%period == w.chunkRatio
			if (state == FullyPresent || state == PartiallyPresent) && (off < headerAreaSize || off > maxFileSize) {
				return 0, formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", first+j), w.batOffset+8*int64(first+j), "present at file offset %d", off)
			}
			switch {
			case bitmap && state == SectorBitmapPresent:
				end = max(end, off+mib)
			case !bitmap && (state == FullyPresent || state == PartiallyPresent):
				end = max(end, off+w.blockSize)
			}
		}
	}
	return end, nil
}

// Image returns a read view of the file reflecting every write so far. The
// view is cached until the next write. While the Writer is open the header
// names the log, so the view replays its newest entry in memory (a no-op:
// its changes are already in place) and Check reports log.replay_needed.
func (w *Writer) Image() *Image {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.img == nil {
		w.img, _ = Open(w.f, w.size)
	}
	return w.img
}

// Close flushes the file and, when the log was used, marks it empty in
// both headers. After an I/O error the log is left as it is, to be replayed
// on the next open, and Close returns that error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrWriterClosed
	}
	w.closed = true
	if w.broken != nil {
		return w.broken
	}
	if !w.modified {
		return nil
	}
	if err := w.sync(); err != nil {
		return err
	}
	if w.hdr.LogGUID != uuid.Nil {
		if err := w.updateHeader(true, w.hdr.FileWriteGUID, w.hdr.DataWriteGUID, uuid.Nil); err != nil {
			return err
		}
	}
	w.img = nil
	return nil
}

// Flush makes every write so far durable: block allocations already are,
// through the log; this syncs data written into blocks that were present.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return ErrWriterClosed
	case w.broken != nil:
		return w.broken
	}
	return w.sync()
}

func (w *Writer) fail(err error) error {
	if w.broken == nil {
		w.broken = fmt.Errorf("vhdx: write failed, the file needs log replay before further writes: %w", err)
	}
	return w.broken
}

func (w *Writer) sync() error {
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	w.synced = w.size
	return nil
}

// updateHeader writes the noncurrent header with the next sequence number
// and the given GUIDs, then flushes (MS-VHDX 2.2.2.1). With twice it does
// so a second time, so both headers hold the new values.
func (w *Writer) updateHeader(twice bool, fileWrite, dataWrite, logGUID uuid.UUID) error {
	for i := 0; i < 1+btoi(twice); i++ {
		slot := 1 - w.cur
		seq := w.hdr.SequenceNumber + 1
		b := encodeHeader(seq, fileWrite, dataWrite, logGUID, w.hdr.LogLength, w.hdr.LogOffset)
		off := int64(header1Offset)
		if slot == 1 {
			off = header2Offset
		}
		if _, err := w.f.WriteAt(b, off); err != nil {
			return w.fail(err)
		}
		if err := w.sync(); err != nil {
			return err
		}
		w.cur = slot
		w.hdr.Offset, w.hdr.SequenceNumber = off, seq
		w.hdr.FileWriteGUID, w.hdr.DataWriteGUID, w.hdr.LogGUID = fileWrite, dataWrite, logGUID
		w.hdr.Checksum, w.hdr.ComputedChecksum = le.Uint32(b[4:]), le.Uint32(b[4:])
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// beginModify performs the header updates due before the file changes: on
// the first modification of the session a new FileWriteGuid and
// DataWriteGuid (written to both headers), and a new LogGuid before the log
// is first written.
func (w *Writer) beginModify(useLog bool) error {
	logGUID := w.hdr.LogGUID
	newLog := useLog && w.log == nil
	if newLog {
		logGUID = uuid.New()
	} else if w.log == nil {
		logGUID = uuid.Nil
	}
	if !w.modified || !w.dataChanged {
		fileWrite := w.hdr.FileWriteGUID
		if !w.modified {
			fileWrite = uuid.New()
		}
		if err := w.updateHeader(true, fileWrite, uuid.New(), logGUID); err != nil {
			return err
		}
		w.modified, w.dataChanged = true, true
	} else if newLog {
		if err := w.updateHeader(false, w.hdr.FileWriteGUID, w.hdr.DataWriteGUID, logGUID); err != nil {
			return err
		}
	}
	if newLog {
		w.log = newLogWriter(w.f, int64(w.hdr.LogOffset), w.hdr.LogLength, logGUID)
	}
	return nil
}

// WriteAt writes p to the virtual disk at off. Both must be multiples of the
// logical sector size (else an *AlignmentError) and the range must lie
// inside the disk (else an error wrapping ErrBeyondEnd); nothing is written
// then. Blocks not yet allocated are appended to the file. Each group of
// blocks whose metadata changes fit one log entry (normally the whole
// write) is committed atomically.
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return 0, ErrWriterClosed
	case w.broken != nil:
		return 0, w.broken
	case off%w.lss != 0 || int64(len(p))%w.lss != 0:
		return 0, &AlignmentError{Offset: off, Length: len(p), SectorSize: uint32(w.lss)}
	case off < 0 || off > w.virtualSize || int64(len(p)) > w.virtualSize-off:
		return 0, fmt.Errorf("vhdx: write of %d bytes at %d of a %d-byte disk: %w", len(p), off, w.virtualSize, ErrBeyondEnd)
	case len(p) == 0:
		return 0, nil
	}
	var segs []segment
	for n := 0; n < len(p); {
		pos := off + int64(n)
		in := pos % w.blockSize
		c := int(min(int64(len(p)-n), w.blockSize-in))
		segs = append(segs, segment{block: uint64(pos / w.blockSize), in: in, data: p[n : n+c]})
		n += c
	}
	done := 0
	for len(segs) > 0 {
		k, err := w.groupSize(segs)
		if err != nil {
			return done, err
		}
		if err := w.commit(segs[:k]); err != nil {
			return done, err
		}
		for _, s := range segs[:k] {
			done += len(s.data)
		}
		segs = segs[k:]
	}
	return done, nil
}

// segment is the part of a write that falls in one payload block.
type segment struct {
	block uint64
	in    int64 // offset inside the block
	data  []byte
}

// blockIndex returns the BAT index of payload block n.
func (w *Writer) blockIndex(n uint64) uint64 { return n + n/w.chunkRatio }

// bitmapIndex returns the BAT index of chunk c's sector bitmap entry.
func (w *Writer) bitmapIndex(c uint64) uint64 { return c*(w.chunkRatio+1) + w.chunkRatio }

// bitmapSectors bounds the bitmap sectors covering n logical sectors.
func (w *Writer) bitmapSectors(n int64) int { return int((n+8*logSector-1)/(8*logSector)) + 1 }

// groupSize returns how many leading segments can commit in one log entry,
// bounding each segment's metadata sectors from its block's state.
func (w *Writer) groupSize(segs []segment) (int, error) {
	lw := w.log
	if lw == nil {
		lw = &logWriter{length: w.hdr.LogLength}
	}
	limit := lw.maxChanges()
	used := 0
	for i, s := range segs {
		raw, err := w.entry(nil, w.blockIndex(s.block))
		if err != nil {
			return 0, err
		}
		need := 0
		switch BlockState(raw & 7) {
		case FullyPresent:
		case PartiallyPresent:
			need = w.bitmapSectors(int64(len(s.data)) / w.lss)
		default:
			need = 1
			if w.hasParent {
				need = 2 + w.bitmapSectors(w.blockSize/w.lss)
			}
		}
		if used+need > limit {
			if i == 0 {
				return 0, fmt.Errorf("vhdx: a block's metadata needs %d log sectors, the log holds %d: %w", need, limit, ErrUnsupported)
			}
			return i, nil
		}
		used += need
	}
	return len(segs), nil
}

// writeTx collects the metadata sectors one commit changes.
type writeTx struct {
	dirty map[int64]*txSector
	fresh map[int64]bool // sector bitmap blocks allocated by this commit
	end   int64          // allocation cursor
}

type txSector struct{ orig, cur []byte }

// sector returns the 4 KiB metadata sector at off: from tx when it holds it,
// else from the cache or the file. With tx non-nil the sector joins tx.
func (w *Writer) sector(tx *writeTx, off int64) ([]byte, error) {
	if tx != nil {
		if s, ok := tx.dirty[off]; ok {
			return s.cur, nil
		}
	}
	b, ok := w.sectors[off]
	switch {
	case ok:
	case tx != nil && tx.fresh[off&^(mib-1)]:
		b = make([]byte, logSector) // a new sector bitmap block reads as zeros
	default:
		b = make([]byte, logSector)
		if err := readAt(w.f, b, off, "metadata sector"); err != nil {
			return nil, err
		}
		if len(w.sectors) >= maxCachedSectors {
			clear(w.sectors)
		}
		w.sectors[off] = b
	}
	if tx == nil {
		return b, nil
	}
	s := &txSector{orig: b, cur: bytes.Clone(b)}
	tx.dirty[off] = s
	return s.cur, nil
}

// entry returns raw BAT entry i as tx (or the file) has it.
func (w *Writer) entry(tx *writeTx, i uint64) (uint64, error) {
	pos := w.batOffset + 8*int64(i)
	if tx != nil {
		if s, ok := tx.dirty[pos&^(logSector-1)]; ok {
			return le.Uint64(s.cur[pos%logSector:]), nil
		}
	}
	b, err := w.sector(nil, pos&^(logSector-1))
	if err != nil {
		return 0, err
	}
	return le.Uint64(b[pos%logSector:]), nil
}

func (w *Writer) setEntry(tx *writeTx, i uint64, raw uint64) error {
	pos := w.batOffset + 8*int64(i)
	b, err := w.sector(tx, pos&^(logSector-1))
	if err != nil {
		return err
	}
	le.PutUint64(b[pos%logSector:], raw)
	return nil
}

// setBits sets (or clears) count bits from bit first of the sector bitmap
// block at file offset bm; bit k describes logical sector k of the chunk,
// least significant bit first in each byte.
func (w *Writer) setBits(tx *writeTx, bm int64, first, count uint64, val bool) error {
	for count > 0 {
		byteOff := int64(first / 8)
		secOff := bm + byteOff&^(logSector-1)
		b, err := w.sector(tx, secOff)
		if err != nil {
			return err
		}
		for i := byteOff % logSector; i < logSector && count > 0; i++ {
			bit := first % 8
			if bit == 0 && count >= 8 {
				if val {
					b[i] = 0xFF
				} else {
					b[i] = 0
				}
				first, count = first+8, count-8
				continue
			}
			for ; bit < 8 && count > 0; bit++ {
				if val {
					b[i] |= 1 << bit
				} else {
					b[i] &^= 1 << bit
				}
				first, count = first+1, count-1
			}
		}
	}
	return nil
}

// bitmapBlock returns the file offset of chunk c's sector bitmap block,
// allocating it (zeroed, at the end of the file) when alloc is set and the
// chunk has none.
func (w *Writer) bitmapBlock(tx *writeTx, c uint64, alloc bool) (int64, error) {
	idx := w.bitmapIndex(c)
	raw, err := w.entry(tx, idx)
	if err != nil {
		return 0, err
	}
	switch BlockState(raw & 7) {
	case SectorBitmapPresent:
		off := int64(raw>>20) << 20
		if off < headerAreaSize {
			return 0, formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", idx), w.batOffset+8*int64(idx), "sector bitmap of chunk %d at file offset %d", c, off)
		}
		return off, nil
	case NotPresent:
		if !alloc {
			return 0, formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", idx), w.batOffset+8*int64(idx), "chunk %d has partially present blocks but no sector bitmap", c)
		}
		off := tx.end
		tx.end += mib
		tx.fresh[off] = true
		return off, w.setEntry(tx, idx, uint64(off)|uint64(SectorBitmapPresent))
	}
	return 0, formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", idx), w.batOffset+8*int64(idx), "sector bitmap of chunk %d has invalid state %d", c, raw&7)
}

// sectorBit returns the chunk and the bit in its sector bitmap of the
// logical sector at virtual offset pos.
func (w *Writer) sectorBit(pos int64) (uint64, uint64) {
	s := uint64(pos / w.lss)
	return s >> 23, s & (1<<23 - 1)
}

// commit writes segs as one transaction: header update if due, file
// extension, payload data, flush; then, when metadata changes, one log
// entry, flush, the changes in place, flush.
func (w *Writer) commit(segs []segment) error {
	tx := &writeTx{dirty: map[int64]*txSector{}, fresh: map[int64]bool{}, end: w.end}
	type dataWrite struct {
		off  int64
		data []byte
	}
	var writes []dataWrite
	for _, s := range segs {
		idx := w.blockIndex(s.block)
		raw, err := w.entry(tx, idx)
		if err != nil {
			return err
		}
		state, foff := BlockState(raw&7), int64(raw>>20)<<20
		where := func() error {
			return formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", idx), w.batOffset+8*int64(idx), "block %d has state %s at file offset %d", s.block, state, foff)
		}
		blockStart := int64(s.block) * w.blockSize
		switch state {
		case FullyPresent, PartiallyPresent:
			if foff < headerAreaSize || foff+w.blockSize > max(w.end, w.size) || (state == PartiallyPresent && !w.hasParent) {
				return where()
			}
			writes = append(writes, dataWrite{foff + s.in, s.data})
			if state == PartiallyPresent && s.in == 0 && int64(len(s.data)) == min(w.blockSize, w.virtualSize-blockStart) {
				// Every sector is now present: the bitmap no longer matters.
				if err := w.setEntry(tx, idx, uint64(foff)|uint64(FullyPresent)); err != nil {
					return err
				}
			} else if state == PartiallyPresent {
				chunk, bit := w.sectorBit(blockStart + s.in)
				bm, err := w.bitmapBlock(tx, chunk, false)
				if err != nil {
					return err
				}
				if err := w.setBits(tx, bm, bit, uint64(int64(len(s.data))/w.lss), true); err != nil {
					return err
				}
			}
		case NotPresent, Undefined, Zero, Unmapped:
			foff = tx.end
			tx.end += w.blockSize
			newState := FullyPresent
			inDisk := min(w.blockSize, w.virtualSize-blockStart)
			if w.hasParent && state != Zero && (s.in != 0 || int64(len(s.data)) != inDisk) {
				// Sectors not written keep coming from the parent.
				newState = PartiallyPresent
				chunk, first := w.sectorBit(blockStart)
				bm, err := w.bitmapBlock(tx, chunk, true)
				if err != nil {
					return err
				}
				if err := w.setBits(tx, bm, first, uint64(w.blockSize/w.lss), false); err != nil {
					return err
				}
				_, bit := w.sectorBit(blockStart + s.in)
				if err := w.setBits(tx, bm, bit, uint64(int64(len(s.data))/w.lss), true); err != nil {
					return err
				}
			}
			if err := w.setEntry(tx, idx, uint64(foff)|uint64(newState)); err != nil {
				return err
			}
			writes = append(writes, dataWrite{foff + s.in, s.data})
		default:
			return where()
		}
	}
	var changes []logChange
	for off, s := range tx.dirty {
		if !bytes.Equal(s.orig, s.cur) {
			changes = append(changes, logChange{offset: off, data: s.cur})
		}
	}
	useLog := len(changes) > 0
	sort.Slice(changes, func(i, j int) bool { return changes[i].offset < changes[j].offset })
	if err := w.beginModify(useLog); err != nil {
		return err
	}
	w.img = nil
	if tx.end > w.size {
		if err := w.f.Truncate(tx.end); err != nil {
			return w.fail(err)
		}
		w.size = tx.end
	}
	w.end = tx.end
	for _, d := range writes {
		if _, err := w.f.WriteAt(d.data, d.off); err != nil {
			return w.fail(err)
		}
	}
	if !useLog {
		return nil
	}
	if err := w.sync(); err != nil {
		return err
	}
	if _, err := w.log.write(changes, uint64(w.synced), uint64(w.size)); err != nil {
		return w.fail(err)
	}
	if err := w.sync(); err != nil {
		return err
	}
	for _, c := range changes {
		if _, err := w.f.WriteAt(c.data, c.offset); err != nil {
			return w.fail(err)
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.log.applied()
	for _, c := range changes {
		if len(w.sectors) >= maxCachedSectors {
			clear(w.sectors)
		}
		w.sectors[c.offset] = c.data
	}
	return nil
}
