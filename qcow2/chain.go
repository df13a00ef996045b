package qcow2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxChainDepth bounds the number of images in a backing chain.
const MaxChainDepth = 256

// Chain errors; a *ChainError wraps one of them.
var (
	// ErrBackingNotFound means the resolver could not find a backing file
	// or data file.
	ErrBackingNotFound = errors.New("backing file not found")
	// ErrBackingFormat means a backing file is not in the format the
	// image names, or in a format this package cannot read.
	ErrBackingFormat = errors.New("backing file format not readable")
	// ErrChainLoop means a file appears twice in its own chain.
	ErrChainLoop = errors.New("backing chain loops")
	// ErrChainTooDeep means the chain is longer than MaxChainDepth.
	ErrChainTooDeep = errors.New("backing chain too deep")
	// ErrSnapshotNotFound means no snapshot has the ID or name asked for.
	ErrSnapshotNotFound = errors.New("snapshot not found")
)

// ChainError describes a problem between an image and a file it refers to.
type ChainError struct {
	Child  string    // the referring image's name
	Parent string    // the backing or data file's name, or the name the image stores
	Ref    Reference // the reference that failed
	Msg    string
	Err    error
	// Found is the part of the chain resolved before the problem, the
	// image opened first.
	Found []Layer
}

// Error describes the problem with both names.
func (e *ChainError) Error() string {
	return fmt.Sprintf("qcow2: %s -> %s: %s (%v)", e.Child, e.Parent, e.Msg, e.Err)
}

// Unwrap returns the sentinel error.
func (e *ChainError) Unwrap() error { return e.Err }

// ReferenceKind says what an image refers to.
type ReferenceKind uint8

// Reference kinds.
const (
	BackingFile ReferenceKind = iota // the backing file name in the header
	DataFile                         // the external data file extension
)

// String returns "backing file" or "data file".
func (k ReferenceKind) String() string {
	if k == DataFile {
		return "data file"
	}
	return "backing file"
}

// Reference is a file an image needs, as the image names it.
type Reference struct {
	Kind   ReferenceKind
	Name   string // as stored in the image
	Format string // the backing file format extension, "" if absent
}

// A Resolver finds the file an image named from refers to. It returns the
// file's contents, size and a name that identifies it (such as a cleaned
// path; equal names mean the same file). It returns an error wrapping
// ErrBackingNotFound when no candidate exists.
type Resolver func(from string, ref Reference) (r io.ReaderAt, size int64, name string, err error)

// Disk returns the virtual disk of an image that needs no other file. It
// fails with ErrBackingRequired for an image with a backing file or an
// external data file (use OpenChain), and with why the data cannot be read
// (ErrEncrypted, ErrUnsupported, ErrCorrupt).
func (img *Image) Disk() (*Disk, error) { return OpenChain(img, "", nil) }

// OpenChain returns the virtual disk of top, named name, reading through
// its external data file and backing files as resolve finds them. A
// backing file is read as qcow2 or raw as the backing format extension
// says, else as its first bytes say. resolve may be nil for an image that
// refers to no file.
func OpenChain(top *Image, name string, resolve Resolver) (*Disk, error) {
	return openChain(top, name, top.L1, int64(top.Header.VirtualSize), resolve)
}

// OpenChainSnapshot is OpenChain for the disk as internal snapshot
// snapshot (an ID, else a name) saw it: through the snapshot's L1 table
// and disk size, with the image's current backing chain.
func OpenChainSnapshot(top *Image, name, snapshot string, resolve Resolver) (*Disk, error) {
	s, ok := top.Snapshot(snapshot)
	if !ok {
		return nil, fmt.Errorf("qcow2: no snapshot with ID or name %q: %w", snapshot, ErrSnapshotNotFound)
	}
	where := fmt.Sprintf("snapshot %s", s.ID)
	l1, err := top.readTable(s.L1TableOffset, uint64(s.L1Size), MaxL1Bytes, "L1 table of "+where, s.Offset)
	if err != nil {
		return nil, err
	}
	size := s.VirtualSize(top)
	if size > 1<<62 {
		return nil, formatErr(ErrCorrupt, where, s.Offset, "disk size %d is too large", size)
	}
	return openChain(top, name, l1, int64(size), resolve)
}

func openChain(top *Image, name string, l1 []uint64, size int64, resolve Resolver) (*Disk, error) {
	if top.readErr != nil {
		return nil, top.readErr
	}
	d := &Disk{size: size}
	seen := map[string]bool{name: true}
	cur, curName, curL1, curSize := top, name, l1, size
	for {
		if len(d.levels) >= MaxChainDepth {
			return nil, &ChainError{Child: curName, Parent: cur.BackingFile, Ref: Reference{Kind: BackingFile, Name: cur.BackingFile, Format: cur.BackingFormat},
				Msg: fmt.Sprintf("more than %d levels", MaxChainDepth), Err: ErrChainTooDeep, Found: d.layers}
		}
		role := RoleBacking
		if len(d.levels) == 0 {
			role = RoleImage
		}
		lv := level{img: cur, l1: curL1, size: curSize, data: cur.r, layer: len(d.layers), dataLayer: len(d.layers)}
		d.layers = append(d.layers, Layer{Image: cur, Name: curName, Role: role, Format: "qcow2", Size: cur.Size})
		if cur.Header.ExternalData() {
			ref := Reference{Kind: DataFile, Name: cur.DataFile}
			r, n, dname, err := d.resolve(resolve, curName, ref)
			if err != nil {
				return nil, err
			}
			lv.data, lv.dataLayer = r, len(d.layers)
			d.layers = append(d.layers, Layer{Name: dname, Role: RoleDataFile, Format: "raw", Size: n})
		}
		d.levels = append(d.levels, lv)
		if cur.BackingFile == "" {
			return d, nil
		}
		ref := Reference{Kind: BackingFile, Name: cur.BackingFile, Format: cur.BackingFormat}
		r, n, bname, err := d.resolve(resolve, curName, ref)
		if err != nil {
			return nil, err
		}
		if seen[bname] {
			return nil, &ChainError{Child: curName, Parent: bname, Ref: ref, Msg: "the backing file is already in the chain", Err: ErrChainLoop, Found: d.layers}
		}
		seen[bname] = true
		isQcow2, err := backingIsQcow2(r, n, ref)
		if err != nil {
			return nil, &ChainError{Child: curName, Parent: bname, Ref: ref, Msg: err.Error(), Err: ErrBackingFormat, Found: d.layers}
		}
		if !isQcow2 {
			d.levels = append(d.levels, level{size: n, data: r, layer: len(d.layers), dataLayer: len(d.layers)})
			d.layers = append(d.layers, Layer{Name: bname, Role: RoleBacking, Format: "raw", Size: n})
			return d, nil
		}
		next, err := Open(r, n)
		if err == nil {
			err = next.readErr
		}
		if err != nil {
			return nil, &ChainError{Child: curName, Parent: bname, Ref: ref, Msg: "cannot read the backing file: " + err.Error(), Err: err, Found: d.layers}
		}
		cur, curName, curL1, curSize = next, bname, next.L1, int64(next.Header.VirtualSize)
	}
}

// resolve asks resolve for ref, turning its failure into a *ChainError.
func (d *Disk) resolve(resolve Resolver, from string, ref Reference) (io.ReaderAt, int64, string, error) {
	if resolve == nil {
		return nil, 0, "", &ChainError{Child: from, Parent: ref.Name, Ref: ref, Msg: "the image needs its " + ref.Kind.String(), Err: ErrBackingRequired, Found: d.layers}
	}
	if ref.Name == "" {
		return nil, 0, "", &ChainError{Child: from, Parent: "", Ref: ref, Msg: "the image needs a " + ref.Kind.String() + " but does not name it", Err: ErrBackingNotFound, Found: d.layers}
	}
	r, n, name, err := resolve(from, ref)
	if err != nil {
		return nil, 0, "", &ChainError{Child: from, Parent: ref.Name, Ref: ref, Msg: "cannot open the " + ref.Kind.String() + ": " + err.Error(), Err: ErrBackingNotFound, Found: d.layers}
	}
	return r, n, name, nil
}

// backingIsQcow2 says how to read a backing file: as the format extension
// says, else by its magic.
func backingIsQcow2(r io.ReaderAt, size int64, ref Reference) (bool, error) {
	var b [4]byte
	magic := size >= 4 && readFull(r, b[:], 0, "backing file") == nil && binary.BigEndian.Uint32(b[:]) == Magic
	switch ref.Format {
	case "":
		return magic, nil
	case "raw":
		return false, nil
	case "qcow2":
		if !magic {
			return false, fmt.Errorf("the image says qcow2, the file has no qcow2 magic")
		}
		return true, nil
	}
	return false, fmt.Errorf("backing format %q is not qcow2 or raw", ref.Format)
}
