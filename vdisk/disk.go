package vdisk

import (
	"fmt"
	"io"
)

// Layer is one file of a disk's chain.
type Layer struct {
	Name  string
	Role  Role
	Image *Image
}

// Extent is a range of the virtual disk supplied one way by one layer.
type Extent struct {
	Start  int64 `json:"start"`
	Length int64 `json:"length"`
	// State is the format's own name for how the range is stored, e.g.
	// "fully_present", "not_present" (VHDX), "normal", "compressed",
	// "zero", "unallocated" (qcow2), "data" (raw).
	State string `json:"state"`
	// Stored reports that the bytes lie in a file, at FileOffset of the
	// layer's file (for a qcow2 compressed cluster, its compressed data).
	Stored     bool  `json:"stored"`
	FileOffset int64 `json:"file_offset"`
	Layer      int   `json:"layer"` // index in Disk.Layers of the layer that decides
}

// StateNeedsParent is the State of a range of a ChainError's Partial disk
// that only the missing parent holds.
const StateNeedsParent = "needs_parent"

// Disk is a virtual disk: an io.ReaderAt over its bytes, read through the
// whole chain of files. A Disk is safe for concurrent use.
type Disk struct {
	d      diskBackend
	layers []Layer
}

// diskBackend is what a format's disk provides.
type diskBackend interface {
	io.ReaderAt
	io.WriterTo
	Size() int64
	DataRanges(fn func(off, n int64) error) error
	extents(fn func(Extent) error) error
	runs(off, n int64, fn func(Extent) error) error
}

// ReadAt reads len(p) bytes of the virtual disk at off.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) { return d.d.ReadAt(p, off) }

// Size returns the virtual disk size in bytes.
func (d *Disk) Size() int64 { return d.d.Size() }

// WriteTo writes the whole virtual disk to w.
func (d *Disk) WriteTo(w io.Writer) (int64, error) { return d.d.WriteTo(w) }

// DataRanges calls fn with the ranges some layer stores, in order; the
// rest of the disk reads as zeros.
func (d *Disk) DataRanges(fn func(off, n int64) error) error { return d.d.DataRanges(fn) }

// Layers returns the chain, the opened image first.
func (d *Disk) Layers() []Layer { return d.layers }

// Extents calls fn with the extents of the whole disk in order, adjacent
// extents supplied the same way merged.
func (d *Disk) Extents(fn func(Extent) error) error { return d.d.extents(fn) }

// Runs calls fn for each extent of [off, off+n) in order, at the format's
// finest grain (sectors, subclusters): it says which layer supplies every
// byte.
func (d *Disk) Runs(off, n int64, fn func(Extent) error) error {
	if off < 0 || n < 0 || off > d.Size() || n > d.Size()-off {
		return fmt.Errorf("range %d+%d is outside the %d-byte disk", off, n, d.Size())
	}
	return d.d.runs(off, n, fn)
}

// Check validates every layer of the disk: the image opened and then the
// files it reads through, whose findings name their file in Structure.
func (d *Disk) Check() []Finding {
	var out []Finding
	for i, l := range d.layers {
		for _, f := range l.Image.Check() {
			if i > 0 {
				f.Structure = l.Name + ": " + f.Structure
			}
			out = append(out, f)
		}
	}
	return out
}
