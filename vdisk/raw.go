package vdisk

import (
	"errors"
	"fmt"
	"io"
)

// rawImage is a raw disk image: the file is the disk. A raw layer of a
// qcow2 chain (a backing or data file) has no reader here: the qcow2 disk
// reads it.
type rawImage struct {
	r    io.ReaderAt // nil for a layer of another image's chain
	size int64
}

func (rawImage) native() any             { return nil }
func (rawImage) fields() []Field         { return nil }
func (rawImage) check() []Finding        { return nil }
func (rawImage) references() []Reference { return nil }

func (ri *rawImage) openDisk(img *Image, _ Resolver, snapshot string) (*Disk, error) {
	if snapshot != "" {
		return nil, errors.New(img.Name + ": a raw image has no snapshots")
	}
	if ri.r == nil {
		return nil, errors.New(img.Name + ": a layer of another image's chain; open the file itself to read it alone")
	}
	return &Disk{d: &rawDisk{R: ri.r, N: ri.size}, layers: []Layer{{Name: img.Name, Role: RoleImage, Image: img}}}, nil
}

// rawDisk is a raw disk image as a disk: its bytes are the virtual disk,
// N bytes read from R.
type rawDisk struct {
	R io.ReaderAt
	N int64
}

// Size returns N.
func (d *rawDisk) Size() int64 { return d.N }

// ReadAt reads from R, failing for reads that start beyond the end.
func (d *rawDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.N && len(p) > 0 {
		return 0, fmt.Errorf("read at %d beyond the %d-byte disk", off, d.N)
	}
	want := min(int64(len(p)), d.N-off)
	n, err := d.R.ReadAt(p[:want], off)
	if err == io.EOF && int64(n) == want {
		err = nil
	}
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// WriteTo copies the disk to w.
func (d *rawDisk) WriteTo(w io.Writer) (int64, error) {
	return io.CopyBuffer(w, io.NewSectionReader(d.R, 0, d.N), make([]byte, 1<<20))
}

// DataRanges reports the whole disk: a raw image read through an
// io.ReaderAt cannot tell its holes.
func (d *rawDisk) DataRanges(fn func(off, n int64) error) error {
	if d.N == 0 {
		return nil
	}
	return fn(0, d.N)
}

func (d *rawDisk) extents(fn func(Extent) error) error { return d.runs(0, d.N, fn) }

func (d *rawDisk) runs(off, n int64, fn func(Extent) error) error {
	if n == 0 {
		return nil
	}
	return fn(Extent{Start: off, Length: n, State: "data", Stored: true, FileOffset: off})
}
