package vhdx

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"

	"github.com/google/uuid"
)

// Source is a virtual disk to write as a new image: its bytes, its size and
// the ranges that may hold data (everything else reads as zeros).
type Source interface {
	io.ReaderAt
	Size() int64
	DataRanges(fn func(off, n int64) error) error
}

// DataRanges calls fn with the ranges that some layer of d stores, in
// order; the rest of d reads as zeros. With ReadAt and Size it makes d a
// Source.
func (d *Disk) DataRanges(fn func(off, n int64) error) error {
	return d.Extents(func(e Extent) error {
		if e.stored() {
			return fn(e.Start, e.Length)
		}
		return nil
	})
}

// WriteImage writes src to w as a new standalone VHDX image, in one
// sequential stream that never seeks or reads back (a download, a pipe).
// opt gives the geometry (VirtualSize is src's size; Parent must be nil).
// A dynamic image allocates only the blocks holding non-zero bytes: src's
// data ranges are read twice, once to find them and once to copy them. A
// fixed image allocates every block. progress, when not nil, is called
// with the bytes written so far and the total. WriteImage returns the
// number of bytes written.
func WriteImage(w io.Writer, src Source, opt CreateOptions, progress func(done, total int64)) (int64, error) {
	if opt.Parent != nil {
		return 0, optErr("a streamed image cannot have a parent")
	}
	opt.VirtualSize = uint64(src.Size())
	l, err := opt.plan()
	if err != nil {
		return 0, err
	}
	used, err := usedBlocks(src, l)
	if err != nil {
		return 0, err
	}
	// Used blocks are stored in order from the payload offset.
	sw := &streamWriter{w: w, total: int64(l.payloadOffset + used.count()*uint64(l.blockSize)), progress: progress}
	meta, err := l.metadataRegion()
	if err != nil {
		return 0, err
	}
	head := make([]byte, l.logOffset) // identifier, headers, region tables
	copy(head, l.identifier())
	fileWrite, dataWrite := uuid.New(), uuid.New()
	for i, off := range []uint64{header1Offset, header2Offset} {
		copy(head[off:], encodeHeader(uint64(i+1), fileWrite, dataWrite, uuid.Nil, uint32(l.logLength), l.logOffset))
	}
	rt := l.regionTable()
	copy(head[region1Offset:], rt)
	copy(head[region2Offset:], rt)
	sw.write(head)
	sw.zeros(int64(l.logLength))
	sw.write(meta)
	sw.zeros(int64(l.metaLen) - int64(len(meta)))
	next := l.payloadOffset
	err = l.writeBAT(func(b []byte, _ uint64) error { sw.write(b); return sw.err }, func(block uint64) uint64 {
		if !used.has(block) { // called for blocks in increasing order
			return 0
		}
		next += uint64(l.blockSize)
		return next - uint64(l.blockSize)
	})
	if err != nil {
		return sw.done, err
	}
	sw.zeros(int64(l.batOffset+l.batLength) - sw.done)
	buf := make([]byte, min(uint64(4*mib), uint64(l.blockSize)))
	for b := uint64(0); b < l.blockCount; b++ {
		if !used.has(b) {
			continue
		}
		start := int64(b) * int64(l.blockSize)
		for pos := start; pos < start+int64(l.blockSize) && sw.err == nil; pos += int64(len(buf)) {
			n := max(0, min(int64(len(buf)), src.Size()-pos))
			if n > 0 { // else the rest of the last block lies past the disk's end
				if _, err := src.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
					return sw.done, err
				}
			}
			clear(buf[n:])
			sw.write(buf)
		}
	}
	return sw.done, sw.err
}

// blockSet is a set of block numbers: one bit each, so a 64 TiB disk of
// 1 MiB blocks needs 8 MiB.
type blockSet []uint64

func (s blockSet) has(b uint64) bool { return s[b/64]>>(b%64)&1 != 0 }
func (s blockSet) add(b uint64)      { s[b/64] |= 1 << (b % 64) }

func (s blockSet) count() uint64 {
	var n uint64
	for _, w := range s {
		n += uint64(bits.OnesCount64(w))
	}
	return n
}

// usedBlocks returns the blocks of the new image that must be stored: all
// of them for a fixed image, else those holding a non-zero byte.
func usedBlocks(src Source, l *createLayout) (blockSet, error) {
	used := make(blockSet, (l.blockCount+63)/64)
	if l.fixed {
		for b := uint64(0); b < l.blockCount; b++ {
			used.add(b)
		}
		return used, nil
	}
	bs := int64(l.blockSize)
	buf := make([]byte, min(4*mib, bs))
	zero := make([]byte, len(buf))
	err := src.DataRanges(func(off, n int64) error {
		// A block may meet several ranges: each part is examined until one
		// shows data.
		for b := off / bs; b*bs < off+n; b++ {
			if used.has(uint64(b)) {
				continue
			}
			lo, hi := max(off, b*bs), min(off+n, (b+1)*bs)
			for pos := lo; pos < hi; pos += int64(len(buf)) {
				p := buf[:min(int64(len(buf)), hi-pos)]
				if _, err := src.ReadAt(p, pos); err != nil && err != io.EOF {
					return err
				}
				if !bytes.Equal(p, zero[:len(p)]) {
					used.add(uint64(b))
					break
				}
			}
		}
		return nil
	})
	return used, err
}

// streamWriter writes sequentially, remembering the first error and
// reporting progress.
type streamWriter struct {
	w           io.Writer
	done, total int64
	err         error
	progress    func(done, total int64)
}

func (s *streamWriter) write(b []byte) {
	if s.err != nil {
		return
	}
	n, err := s.w.Write(b)
	s.done += int64(n)
	if err != nil {
		s.err = fmt.Errorf("vhdx: writing the image at %d: %w", s.done, err)
	}
	if s.progress != nil {
		s.progress(s.done, s.total)
	}
}

func (s *streamWriter) zeros(n int64) {
	var z [64 * kib]byte
	for ; n > 0 && s.err == nil; n -= int64(len(z)) {
		s.write(z[:min(n, int64(len(z)))])
	}
}

// writeBAT writes the BAT in 1 MiB pieces through w: payload block b is
// FULLY_PRESENT at offsetOf(b), or NOT_PRESENT when that is 0; sector
// bitmap entries are NOT_PRESENT.
func (l *createLayout) writeBAT(w func(b []byte, off uint64) error, offsetOf func(block uint64) uint64) error {
	const per = mib / 8
	buf := make([]byte, mib)
	period := l.chunkRatio + 1
	for first := uint64(0); first < l.entryCount; first += per {
		n := min(per, l.entryCount-first)
		p := buf[:8*n]
		clear(p)
		for j := uint64(0); j < n; j++ {
			i := first + j
			if i%period == l.chunkRatio {
				continue // sector bitmap entry
			}
			if off := offsetOf(i - i/period); off != 0 {
				le.PutUint64(p[8*j:], off|uint64(FullyPresent))
			}
		}
		if err := w(p, l.batOffset+8*first); err != nil {
			return err
		}
	}
	return nil
}
