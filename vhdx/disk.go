package vhdx

import (
	"fmt"
	"io"
)

// Disk is the virtual disk of an image: an io.ReaderAt over its bytes.
// Use io.NewSectionReader(d, 0, d.Size()) for an io.ReadSeeker.
type Disk struct {
	img       *Image
	size      int64
	blockSize int64
}

// Disk returns the virtual disk. It fails when the image cannot be read as
// a disk on its own: an unknown required region or metadata item
// (ErrUnsupported), invalid metadata (ErrCorrupt), or a differencing disk
// (ErrParentRequired).
func (img *Image) Disk() (*Disk, error) {
	if img.readErr != nil {
		return nil, img.readErr
	}
	if img.Metadata.HasParent {
		return nil, formatErr(ErrParentRequired, "file parameters", img.Metadata.entry(ItemFileParameters).FileOffset, "reading a differencing disk needs its parent chain")
	}
	return &Disk{img: img, size: int64(img.Metadata.VirtualSize), blockSize: int64(img.Metadata.BlockSize)}, nil
}

// Size returns the virtual disk size in bytes.
func (d *Disk) Size() int64 { return d.size }

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
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		block := pos / d.blockSize
		in := pos % d.blockSize
		chunk := p[n:min(len(p), n+int(d.blockSize-in))]
		if err := d.readBlock(uint64(block), in, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, eof
}

// readBlock fills dst with the bytes at offset in of payload block n.
func (d *Disk) readBlock(n uint64, in int64, dst []byte) error {
	e, err := d.img.BAT.Block(n)
	if err != nil {
		return err
	}
	switch e.State {
	case NotPresent, Undefined, Zero, Unmapped:
		clear(dst)
		return nil
	case FullyPresent:
		if e.FileOffset < headerAreaSize {
			return formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", e.Index), e.Offset, "block %d is present at file offset %d, inside the header section", n, e.FileOffset)
		}
		return readAt(d.img.view, dst, e.FileOffset+in, fmt.Sprintf("payload block %d", n))
	}
	return formatErr(ErrCorrupt, fmt.Sprintf("BAT entry %d", e.Index), e.Offset, "block %d has state %s, invalid in a disk without a parent", n, e.State)
}

// Extent is a run of the virtual disk whose blocks share a state and, for
// present data, lie contiguously in the file.
type Extent struct {
	Start      int64      `json:"start"`
	Length     int64      `json:"length"`
	State      BlockState `json:"-"`
	FileOffset int64      `json:"file_offset,omitempty"` // 0 unless State is FullyPresent
}

// Extents calls fn with the virtual disk's extents in order, merging
// adjacent blocks of the same state (and contiguous file data). It streams
// the BAT without caching it.
func (d *Disk) Extents(fn func(Extent) error) error {
	var cur Extent
	have := false
	err := d.img.BAT.Walk(func(e BATEntry) error {
		if e.SectorBitmap {
			return nil
		}
		start := int64(e.Block) * d.blockSize
		ext := Extent{Start: start, Length: min(d.blockSize, d.size-start), State: e.State}
		if e.State == FullyPresent {
			ext.FileOffset = e.FileOffset
		}
		if have && cur.State == ext.State && (ext.State != FullyPresent || cur.FileOffset+cur.Length == ext.FileOffset) {
			cur.Length += ext.Length
			return nil
		}
		if have {
			if err := fn(cur); err != nil {
				return err
			}
		}
		cur, have = ext, true
		return nil
	})
	if err != nil || !have {
		return err
	}
	return fn(cur)
}

// WriteTo writes the whole virtual disk to w, reading through a fixed-size
// buffer. It implements io.WriterTo for fast streaming.
func (d *Disk) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, min(4*mib, d.size))
	var total int64
	for total < d.size {
		n, err := d.ReadAt(buf[:min(int64(len(buf)), d.size-total)], total)
		if err != nil && err != io.EOF {
			return total, err
		}
		m, werr := w.Write(buf[:n])
		total += int64(m)
		if werr != nil {
			return total, werr
		}
	}
	return total, nil
}
