package vhdx

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/uuid"
)

// MaxChainDepth bounds the number of images in a differencing chain.
const MaxChainDepth = 256

// Chain errors; a *ChainError wraps one of them.
var (
	// ErrParentNotFound means the resolver could not find a parent file.
	ErrParentNotFound = errors.New("parent disk not found")
	// ErrParentMismatch means the parent found is not the one the child
	// was made from, or does not match its geometry.
	ErrParentMismatch = errors.New("parent disk does not match")
	// ErrChainLoop means a disk appears twice in its own chain.
	ErrChainLoop = errors.New("differencing chain loops")
	// ErrChainTooDeep means the chain is longer than MaxChainDepth.
	ErrChainTooDeep = errors.New("differencing chain too deep")
)

// ChainError describes a problem between a child and its parent.
type ChainError struct {
	Child  string // the child's name
	Parent string // the parent's name, or the name the child expects
	Msg    string
	Err    error
	// Found is the part of the chain resolved before the problem, the
	// image opened first; its last layer is the child.
	Found []Layer
	// Partial, when the parent was not found (ErrParentNotFound), is the
	// disk of Found: its Extents and Runs still describe every range, those
	// that need the missing parent as extents of layer len(Found); only
	// reads of those ranges fail.
	Partial *Disk
}

func (e *ChainError) Error() string {
	parent := e.Parent
	if parent == "" {
		parent = "its parent"
	}
	return fmt.Sprintf("vhdx: %s -> %s: %s (%v)", e.Child, parent, e.Msg, e.Err)
}

// Unwrap returns the sentinel error.
func (e *ChainError) Unwrap() error { return e.Err }

// A Resolver finds the parent of the differencing disk named child, whose
// parent locator is loc. It returns the parent's contents, size and a name
// that identifies it (such as a cleaned path; equal names mean the same
// file). It returns an error wrapping ErrParentNotFound when no candidate
// exists.
type Resolver func(child string, loc *ParentLocator) (r io.ReaderAt, size int64, name string, err error)

// OpenChain returns the virtual disk of top, named name, reading through
// its parents as resolve finds them. For a disk without a parent it is
// top.Disk(). Each parent is verified: its DataWriteGUID must equal the
// child's parent_linkage (or parent_linkage2), and its logical sector size
// and virtual size must equal the child's.
func OpenChain(top *Image, name string, resolve Resolver) (*Disk, error) {
	if err := top.readable(); err != nil {
		return nil, err
	}
	d := &Disk{layers: []Layer{{Image: top, Name: name}}, size: int64(top.Metadata.VirtualSize)}
	seen := map[string]bool{name: true}
	for child := d.layers[0]; child.Image.Metadata.HasParent; child = d.layers[len(d.layers)-1] {
		if len(d.layers) >= MaxChainDepth {
			return nil, &ChainError{Child: child.Name, Parent: ExpectedParentName(child.Image), Msg: fmt.Sprintf("more than %d levels", MaxChainDepth), Err: ErrChainTooDeep, Found: d.layers}
		}
		parent, err := openParent(child, resolve)
		if err != nil {
			err.Found = d.layers
			if errors.Is(err.Err, ErrParentNotFound) {
				missing := err.Parent
				if missing == "" {
					missing = "(the locator names none)"
				}
				err.Partial = &Disk{layers: d.layers, size: d.size, missing: missing}
			}
			return nil, err
		}
		if seen[parent.Name] {
			return nil, &ChainError{Child: child.Name, Parent: parent.Name, Msg: "the parent is already in the chain", Err: ErrChainLoop, Found: d.layers}
		}
		seen[parent.Name] = true
		d.layers = append(d.layers, parent)
	}
	return d, nil
}

// openParent resolves, opens and verifies the parent of child.
func openParent(child Layer, resolve Resolver) (Layer, *ChainError) {
	loc := child.Image.Metadata.ParentLocator
	expected := ExpectedParentName(child.Image)
	fail := func(parent, msg string, err error) (Layer, *ChainError) {
		return Layer{}, &ChainError{Child: child.Name, Parent: parent, Msg: msg, Err: err}
	}
	if loc == nil {
		return fail(expected, "the child has no parent locator", ErrParentNotFound)
	}
	if resolve == nil {
		return fail(expected, "no way to look for parents was given", ErrParentNotFound)
	}
	r, size, name, err := resolve(child.Name, loc)
	if err != nil {
		return fail(expected, err.Error(), ErrParentNotFound)
	}
	img, err := Open(r, size)
	if err != nil {
		return fail(name, "cannot open the parent: "+err.Error(), ErrParentMismatch)
	}
	if err := img.readable(); err != nil {
		return fail(name, "cannot read the parent: "+err.Error(), ErrParentMismatch)
	}
	data := img.CurrentHeader().DataWriteGUID
	if !linked(loc, data) {
		link, _ := loc.Get("parent_linkage")
		return fail(name, fmt.Sprintf("the child expects parent_linkage %s but the parent's DataWriteGuid is %s (the parent changed after the child was made, or it is another disk)", link, data), ErrParentMismatch)
	}
	cm, pm := child.Image.Metadata, img.Metadata
	if cm.LogicalSectorSize != pm.LogicalSectorSize {
		return fail(name, fmt.Sprintf("logical sector sizes differ: child %d, parent %d", cm.LogicalSectorSize, pm.LogicalSectorSize), ErrParentMismatch)
	}
	if cm.VirtualSize != pm.VirtualSize {
		return fail(name, fmt.Sprintf("virtual sizes differ: child %d, parent %d", cm.VirtualSize, pm.VirtualSize), ErrParentMismatch)
	}
	return Layer{Image: img, Name: name}, nil
}

// linked reports whether the locator names data as its parent's
// DataWriteGUID, through parent_linkage or parent_linkage2.
func linked(loc *ParentLocator, data uuid.UUID) bool {
	for _, key := range []string{"parent_linkage", "parent_linkage2"} {
		if v, ok := loc.Get(key); ok {
			if g, err := uuid.Parse(strings.Trim(v, "{}")); err == nil && g == data {
				return true
			}
		}
	}
	return false
}

// ParentPaths returns the paths a differencing disk's locator gives for its
// parent, in the order to try them (see ParentLocator.Paths).
func ParentPaths(img *Image) []string {
	if img.Metadata == nil {
		return nil
	}
	return img.Metadata.ParentLocator.Paths()
}

// Paths returns the paths the locator gives for the parent, in the order
// to try them: relative_path, absolute_win32_path, volume_path. Windows
// separators are turned into slashes. A nil locator gives none.
func (p *ParentLocator) Paths() []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, key := range []string{"relative_path", "absolute_win32_path", "volume_path"} {
		if v, ok := p.Get(key); ok && v != "" {
			out = append(out, strings.ReplaceAll(v, `\`, "/"))
		}
	}
	return out
}

// ExpectedParentName is the file name of the parent named by the locator
// (for messages such as "parent base.vhdx is missing"), or "" if none.
func ExpectedParentName(img *Image) string {
	if paths := ParentPaths(img); len(paths) > 0 {
		return path.Base(paths[0])
	}
	return ""
}
