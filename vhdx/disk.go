package vhdx

import (
	"fmt"
	"io"
)

// Disk is a virtual disk: an io.ReaderAt over its bytes, read through one
// image or a differencing chain. Use io.NewSectionReader(d, 0, d.Size())
// for an io.ReadSeeker. A Disk is safe for concurrent use.
type Disk struct {
	layers []Layer // layers[0] is the image opened; each next one its parent
	size   int64
	// missing names the parent of the last layer when it was not found
	// (a ChainError's Partial disk): what needs it reads as an error.
	missing string
}

// Layer is one image of a disk's chain.
type Layer struct {
	Image *Image
	Name  string // as given to OpenChain or returned by the resolver
}

// Disk returns the virtual disk of a disk without a parent. It fails when
// the image cannot be read as a disk on its own: an unknown required region
// or metadata item (ErrUnsupported), invalid metadata (ErrCorrupt), or a
// differencing disk (ErrParentRequired; use OpenChain).
func (img *Image) Disk() (*Disk, error) {
	if err := img.readable(); err != nil {
		return nil, err
	}
	if img.Metadata.HasParent {
		return nil, formatErr(ErrParentRequired, "file parameters", img.Metadata.entry(ItemFileParameters).FileOffset, "reading a differencing disk needs its parent chain")
	}
	return &Disk{layers: []Layer{{Image: img}}, size: int64(img.Metadata.VirtualSize)}, nil
}

// readable returns why the image's blocks cannot be read, or nil.
func (img *Image) readable() error {
	if img.readErr != nil {
		return img.readErr
	}
	if img.Metadata == nil || img.BAT == nil {
		return formatErr(ErrCorrupt, "image", -1, "no metadata or BAT")
	}
	return nil
}

// Size returns the virtual disk size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Layers returns the chain, the opened image first and the base last.
func (d *Disk) Layers() []Layer { return d.layers }

// ReadAt reads len(p) bytes of the virtual disk at off. A read that starts at
// or beyond the end fails with an error wrapping ErrBeyondEnd; a read that
// runs past the end returns the bytes before it and io.EOF.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, fmt.Errorf("vhdx: read at %d of a %d-byte disk: %w", off, d.size, ErrBeyondEnd)
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p, eof = p[:d.size-off], io.EOF
	}
	done := 0 // bytes filled, in order, before any error
	err := d.walk(0, off, int64(len(p)), func(r Extent) error {
		dst := p[r.Start-off : r.Start-off+r.Length]
		if r.Layer == len(d.layers) {
			return fmt.Errorf("vhdx: bytes %#x-%#x of the disk live in the parent %s, which was not found: %w", r.Start, r.Start+r.Length-1, d.missing, ErrParentNotFound)
		}
		if r.stored() {
			img := d.layers[r.Layer].Image
			block := r.Start / int64(img.Metadata.BlockSize)
			if err := readAt(img.view, dst, r.FileOffset, fmt.Sprintf("payload block %d", block)); err != nil {
				return err
			}
		} else {
			clear(dst)
		}
		done += len(dst)
		return nil
	})
	if err != nil {
		return done, err
	}
	return len(p), eof
}

// Extent is a range of the virtual disk supplied by one layer in one way:
// the state of the block that decided it and, for stored data (states
// FullyPresent, or PartiallyPresent for sectors present in the layer), the
// file offset of its first byte in that layer's file. In a ChainError's
// Partial disk, Layer is len(Layers()) for ranges that need the missing
// parent.
type Extent struct {
	Start      int64      `json:"start"`
	Length     int64      `json:"length"`
	State      BlockState `json:"-"`
	FileOffset int64      `json:"file_offset,omitempty"`
	Layer      int        `json:"layer"` // index in Layers of the deciding image
}

// stored reports whether the extent's bytes come from a file.
func (e Extent) stored() bool { return e.State == FullyPresent || e.State == PartiallyPresent }

// Runs calls fn for each extent of [off, off+n) in order, block by block
// and, in partially present blocks, sector run by sector run: it says which
// layer supplies every sector.
func (d *Disk) Runs(off, n int64, fn func(Extent) error) error {
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("vhdx: range %d+%d outside the %d-byte disk: %w", off, n, d.size, ErrBeyondEnd)
	}
	return d.walk(0, off, n, fn)
}

// Extents calls fn with the extents of the whole disk in order, merging
// neighbours supplied the same way (same layer and state, and contiguous
// in the file for stored data).
func (d *Disk) Extents(fn func(Extent) error) error {
	var cur Extent
	have := false
	err := d.walk(0, 0, d.size, func(e Extent) error {
		if have && cur.Layer == e.Layer && cur.State == e.State && (!e.stored() || cur.FileOffset+cur.Length == e.FileOffset) {
			cur.Length += e.Length
			return nil
		}
		if have {
			if err := fn(cur); err != nil {
				return err
			}
		}
		cur, have = e, true
		return nil
	})
	if err != nil || !have {
		return err
	}
	return fn(cur)
}

// walk emits the extents of [off, off+n) as layer level supplies them,
// descending to the parent where level's blocks or sectors are absent.
func (d *Disk) walk(level int, off, n int64, emit func(Extent) error) error {
	if level == len(d.layers) { // the missing parent of a partial disk
		return emit(Extent{Start: off, Length: n, State: NotPresent, Layer: level})
	}
	img := d.layers[level].Image
	bs := int64(img.Metadata.BlockSize)
	hasParent := level+1 < len(d.layers) || d.missing != ""
	for end := off + n; off < end; {
		block := uint64(off / bs)
		in := off % bs
		seg := min(end-off, bs-in)
		e, err := img.BAT.Block(block)
		if err != nil {
			return err
		}
		if (e.State == FullyPresent || e.State == PartiallyPresent && hasParent) && e.FileOffset < headerAreaSize {
			where := "inside the header section"
			if e.FileOffset < 0 { // FileOffsetMB is 44 bits: its top values exceed int64
				where = "beyond any file"
			}
			return formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", e.Index), e.Offset, "block %d is present at file offset %#x, %s", block, e.Raw>>20<<20, where)
		}
		switch {
		case e.State == FullyPresent:
			err = emit(Extent{Start: off, Length: seg, State: FullyPresent, FileOffset: e.FileOffset + in, Layer: level})
		case e.State == NotPresent && hasParent:
			err = d.walk(level+1, off, seg, emit)
		case e.State == PartiallyPresent && hasParent:
			err = d.walkPartial(level, e, off, seg, emit)
		case e.State <= Unmapped:
			err = emit(Extent{Start: off, Length: seg, State: e.State, Layer: level})
		default:
			return formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", e.Index), e.Offset, "block %d has state %s, invalid here", block, e.State)
		}
		if err != nil {
			return err
		}
		off += seg
	}
	return nil
}

// walkPartial splits [off, off+n), inside partially present block e of
// layer level, into runs of sectors present in the layer (per its sector
// bitmap) and runs read from the parent.
func (d *Disk) walkPartial(level int, e BATEntry, off, n int64, emit func(Extent) error) error {
	img := d.layers[level].Image
	bs := int64(img.Metadata.BlockSize)
	ss := int64(img.Metadata.LogicalSectorSize)
	if off%ss != 0 || n%ss != 0 {
		// Widen to whole sectors, then trim what is emitted.
		lo, hi := off/ss*ss, (off+n+ss-1)/ss*ss
		return d.walkPartial(level, e, lo, hi-lo, func(x Extent) error {
			s, t := max(x.Start, off), min(x.Start+x.Length, off+n)
			if s >= t {
				return nil
			}
			if x.stored() {
				x.FileOffset += s - x.Start
			}
			x.Start, x.Length = s, t-s
			return emit(x)
		})
	}
	bits, first, err := img.sectorBits(off, n)
	if err != nil {
		return err
	}
	count := n / ss
	for i := int64(0); i < count; {
		present := bitSet(bits, first+i)
		j := i + 1
		for j < count && bitSet(bits, first+j) == present {
			j++
		}
		start, length := off+i*ss, (j-i)*ss
		if present {
			err = emit(Extent{Start: start, Length: length, State: PartiallyPresent, FileOffset: e.FileOffset + start%bs, Layer: level})
		} else {
			err = d.walk(level+1, start, length, emit)
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

func bitSet(b []byte, i int64) bool { return b[i/8]>>(i%8)&1 != 0 }

// sectorBits reads the sector bitmap bytes covering the sectors of
// [off, off+n) (sector aligned, inside one block). It returns the bytes and
// the bit index of the first sector in them.
func (img *Image) sectorBits(off, n int64) ([]byte, int64, error) {
	ss := int64(img.Metadata.LogicalSectorSize)
	perChunk := int64(1) << 23 // sectors described by one bitmap block
	sector := off / ss
	chunk := sector / perChunk
	be, err := img.BAT.Entry(img.BAT.BitmapIndex(uint64(chunk)))
	if err != nil {
		return nil, 0, err
	}
	if be.State != SectorBitmapPresent {
		return nil, 0, formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", be.Index), be.Offset, "chunk %d has partially present blocks but no sector bitmap", chunk)
	}
	inChunk := sector % perChunk
	lo, hi := inChunk/8, (inChunk+n/ss+7)/8
	b := make([]byte, hi-lo)
	if err := readAt(img.view, b, be.FileOffset+lo, fmt.Sprintf("sector bitmap of chunk %d", chunk)); err != nil {
		return nil, 0, err
	}
	return b, inChunk % 8, nil
}

// WriteTo writes the whole virtual disk to w. It implements io.WriterTo
// for fast streaming: a goroutine reads the next chunks while w takes the
// current one, through a few fixed-size buffers.
func (d *Disk) WriteTo(w io.Writer) (int64, error) {
	const chunk, buffers = 4 * mib, 3
	type piece struct {
		buf []byte
		err error
	}
	full := make(chan piece, buffers)
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, min(chunk, d.size))
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for off := int64(0); off < d.size; {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n := min(int64(len(buf)), d.size-off)
			_, err := d.ReadAt(buf[:n], off)
			if err == io.EOF {
				err = nil
			}
			select {
			case full <- piece{buf[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
			off += n
		}
	}()
	var total int64
	for p := range full {
		if p.err != nil {
			return total, p.err
		}
		m, err := w.Write(p.buf)
		total += int64(m)
		if err != nil {
			return total, err
		}
		free <- p.buf[:cap(p.buf)]
	}
	return total, nil
}
