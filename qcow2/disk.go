package qcow2

import (
	"fmt"
	"io"
	"sync"
)

// Disk is a virtual disk: an io.ReaderAt over its bytes, read through an
// image, its external data file and its backing chain. Use
// io.NewSectionReader(d, 0, d.Size()) for an io.ReadSeeker. A Disk is safe
// for concurrent use.
type Disk struct {
	layers []Layer
	levels []level // levels[0] is the image opened; each next one its backing file
	size   int64

	mu     sync.Mutex // guards recent
	recent []decoded  // recently decompressed clusters, for partial reads
}

// level is one image of the chain as the walk sees it.
type level struct {
	img       *Image      // nil for a raw file
	l1        []uint64    // the L1 table read: the image's or a snapshot's
	size      int64       // virtual size (a raw file's size)
	data      io.ReaderAt // where guest data lives: the image, its data file, or the raw file
	layer     int         // index in Disk.layers of the image or raw file
	dataLayer int         // index in Disk.layers of the file data lives in
}

// decoded is one decompressed cluster.
type decoded struct {
	layer int
	off   int64 // file offset of the compressed data
	b     []byte
}

const recentClusters = 4

// Role says what a layer is to the disk.
type Role string

// Layer roles.
const (
	RoleImage    Role = "image"     // the image opened
	RoleBacking  Role = "backing"   // a backing file
	RoleDataFile Role = "data file" // an external data file
)

// Layer is one file of a disk's chain.
type Layer struct {
	Image  *Image // nil for a raw file (a raw backing file or a data file)
	Name   string // as given to OpenChain or returned by the resolver
	Role   Role
	Format string // "qcow2" or "raw"
	Size   int64  // the file's size
}

// Extent is a range of the virtual disk supplied by one layer in one way.
// Layer is the index in Layers of the deciding file: the one holding the
// data (for Normal and Compressed, whose first byte in that file is at
// FileOffset), else the image whose L2 entry decided. A ZeroAllocated
// extent's FileOffset is that of its preallocated cluster in the file
// holding the image's data (the image, or its data file).
type Extent struct {
	Start      int64       `json:"start"`
	Length     int64       `json:"length"`
	Kind       ClusterKind `json:"kind"`
	FileOffset int64       `json:"file_offset,omitempty"`
	Layer      int         `json:"layer"`

	clen int64 // stored length of compressed data
	cpos int64 // offset of Start inside its compressed cluster
}

// stored reports whether the extent's bytes come from a file.
func (e Extent) stored() bool { return e.Kind == Normal || e.Kind == Compressed }

// Size returns the virtual disk size in bytes.
func (d *Disk) Size() int64 { return d.size }

// Layers returns the chain: the opened image first, each image followed
// by its data file, the base last.
func (d *Disk) Layers() []Layer { return d.layers }

// ReadAt reads len(p) bytes of the virtual disk at off. A read that starts
// at or beyond the end fails with an error wrapping ErrBeyondEnd; a read
// that runs past the end returns the bytes before it and io.EOF.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, fmt.Errorf("qcow2: read at %d of a %d-byte disk: %w", off, d.size, ErrBeyondEnd)
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p, eof = p[:d.size-off], io.EOF
	}
	// Contiguous stored extents of one file are read with one call, and
	// so are neighbouring compressed clusters.
	var pend Extent
	batch := compressedBatch{d: d}
	flush := func() error {
		if pend.Length == 0 {
			return nil
		}
		dst := p[pend.Start-off : pend.Start-off+pend.Length]
		err := readFull(d.levelData(pend.Layer), dst, pend.FileOffset, d.layers[pend.Layer].Name)
		pend.Length = 0
		return err
	}
	err := d.walk(0, off, int64(len(p)), func(e Extent) error {
		dst := p[e.Start-off : e.Start-off+e.Length]
		switch e.Kind {
		case Normal:
			if pend.Length > 0 && pend.Layer == e.Layer && pend.Start+pend.Length == e.Start && pend.FileOffset+pend.Length == e.FileOffset {
				pend.Length += e.Length
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			pend = e
			return nil
		case Compressed:
			if e.cpos == 0 && e.Length == d.levelOf(e.Layer).img.Header.ClusterSize() {
				return batch.add(e, dst)
			}
			if err := batch.flush(); err != nil {
				return err
			}
			return d.readCompressed(e, dst)
		}
		clear(dst)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = batch.flush()
	}
	if err != nil {
		return 0, err
	}
	return len(p), eof
}

// levelData is the reader of layer i.
func (d *Disk) levelData(i int) io.ReaderAt {
	for _, lv := range d.levels {
		if lv.dataLayer == i {
			return lv.data
		}
	}
	return nil
}

// levelOf is the level whose image is layer i.
func (d *Disk) levelOf(i int) *level {
	for k := range d.levels {
		if d.levels[k].layer == i {
			return &d.levels[k]
		}
	}
	return nil
}

// Runs calls fn for each extent of [off, off+n) in order, cluster by
// cluster and, with extended L2 entries, subcluster run by subcluster run:
// it says which layer supplies every byte.
func (d *Disk) Runs(off, n int64, fn func(Extent) error) error {
	if off < 0 || n < 0 || off > d.size || n > d.size-off {
		return fmt.Errorf("qcow2: range %d+%d outside the %d-byte disk: %w", off, n, d.size, ErrBeyondEnd)
	}
	return d.walk(0, off, n, fn)
}

// Extents calls fn with the extents of the whole disk in order, merging
// neighbours supplied the same way (same layer and kind, and contiguous in
// the file for normal data; compressed clusters are never merged).
func (d *Disk) Extents(fn func(Extent) error) error {
	var cur Extent
	have := false
	err := d.walk(0, 0, d.size, func(e Extent) error {
		if have && cur.Layer == e.Layer && cur.Kind == e.Kind && e.Kind != Compressed &&
			(e.Kind != Normal || cur.FileOffset+cur.Length == e.FileOffset) {
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

// DataRanges calls fn with the ranges that some layer of d stores (normal
// or compressed data), in order and merged; the rest of d reads as zeros.
func (d *Disk) DataRanges(fn func(off, n int64) error) error {
	var start, length int64
	err := d.walk(0, 0, d.size, func(e Extent) error {
		if !e.stored() {
			return nil
		}
		if length > 0 && start+length == e.Start {
			length += e.Length
			return nil
		}
		if length > 0 {
			if err := fn(start, length); err != nil {
				return err
			}
		}
		start, length = e.Start, e.Length
		return nil
	})
	if err != nil || length == 0 {
		return err
	}
	return fn(start, length)
}
