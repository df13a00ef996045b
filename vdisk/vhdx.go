package vdisk

import (
	"errors"
	"io"
	"path"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// vhdxImage adapts a *vhdx.Image.
type vhdxImage struct{ img *vhdx.Image }

func openVHDX(r io.ReaderAt, size int64) (format, error) {
	img, err := vhdx.Open(r, size)
	if img == nil {
		return nil, err
	}
	return vhdxImage{img}, err
}

// FromVHDX wraps a VHDX image that is already open, named name.
func FromVHDX(img *vhdx.Image, name string) *Image {
	return &Image{Format: VHDX, Name: name, Size: img.Size, f: vhdxImage{img}}
}

func (v vhdxImage) native() any { return v.img }

func (v vhdxImage) fields() []Field {
	var out []Field
	for _, f := range v.img.Fields() {
		out = append(out, Field(f))
	}
	return out
}

func (v vhdxImage) check() []Finding { return vhdxFindings(v.img.Check()) }

func vhdxFindings(in []vhdx.Finding) []Finding {
	out := make([]Finding, 0, len(in))
	for _, f := range in {
		out = append(out, Finding{Code: f.Code, Severity: Severity(f.Severity), Structure: f.Structure, Offset: f.Offset, Message: f.Message})
	}
	return out
}

func (v vhdxImage) references() []Reference {
	if v.img.Metadata == nil || !v.img.Metadata.HasParent {
		return nil
	}
	return []Reference{vhdxParentRef(v.img)}
}

// vhdxParentRef is the parent a differencing disk names.
func vhdxParentRef(img *vhdx.Image) Reference {
	if img.Metadata == nil {
		return Reference{Role: RoleParent, Format: VHDX, Offset: -1}
	}
	return vhdxParentRefOf(img.Metadata.ParentLocator)
}

func (v vhdxImage) openDisk(img *Image, resolve Resolver, snapshot string) (*Disk, error) {
	if snapshot != "" {
		return nil, errors.New(img.Name + ": a VHDX image has no internal snapshots (a checkpoint is a separate .avhdx file)")
	}
	var vr vhdx.Resolver
	if resolve != nil {
		vr = func(child string, loc *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
			return resolve(child, vhdxParentRefOf(loc))
		}
	}
	d, err := vhdx.OpenChain(v.img, img.Name, vr)
	if err == nil {
		return &Disk{d: vhdxDisk{d}, layers: vhdxLayers(d.Layers())}, nil
	}
	var ce *vhdx.ChainError
	if !errors.As(err, &ce) {
		return nil, err
	}
	out := &ChainError{From: ce.Child, Ref: Reference{Role: RoleParent, Name: ce.Parent, Format: VHDX, Offset: -1}, Msg: ce.Msg, Found: vhdxLayers(ce.Found), cause: err}
	if ce.Partial != nil {
		out.Partial = &Disk{d: vhdxDisk{ce.Partial}, layers: out.Found}
	}
	if n := len(ce.Found); n > 0 {
		out.Ref = vhdxParentRef(ce.Found[n-1].Image)
		if ce.Parent != "" {
			out.Ref.Name = ce.Parent
		}
	}
	switch {
	case errors.Is(err, vhdx.ErrParentNotFound):
		out.Err = ErrMissing
	case errors.Is(err, vhdx.ErrChainLoop):
		out.Err = ErrLoop
	case errors.Is(err, vhdx.ErrChainTooDeep):
		out.Err = ErrTooDeep
	default:
		out.Err = ErrMismatch
	}
	return nil, out
}

// vhdxParentRefOf is the parent a parent locator names.
func vhdxParentRefOf(loc *vhdx.ParentLocator) Reference {
	ref := Reference{Role: RoleParent, Paths: loc.Paths(), Format: VHDX, Offset: -1}
	if loc != nil {
		ref.Offset = loc.Offset
	}
	if len(ref.Paths) > 0 {
		ref.Name = path.Base(ref.Paths[0])
	}
	return ref
}

// vhdxLayers wraps the layers of a VHDX chain.
func vhdxLayers(in []vhdx.Layer) []Layer {
	out := make([]Layer, len(in))
	for i, l := range in {
		out[i] = Layer{Name: l.Name, Role: RoleParent, Image: FromVHDX(l.Image, l.Name)}
	}
	if len(out) > 0 {
		out[0].Role = RoleImage
	}
	return out
}

// vhdxDisk adapts a *vhdx.Disk.
type vhdxDisk struct{ *vhdx.Disk }

func (d vhdxDisk) extents(fn func(Extent) error) error {
	return d.Extents(func(e vhdx.Extent) error { return fn(d.extent(e)) })
}

func (d vhdxDisk) runs(off, n int64, fn func(Extent) error) error {
	return d.Runs(off, n, func(e vhdx.Extent) error { return fn(d.extent(e)) })
}

func (d vhdxDisk) extent(e vhdx.Extent) Extent {
	out := Extent{Start: e.Start, Length: e.Length, State: e.State.String(), Layer: e.Layer}
	switch {
	case e.Layer == len(d.Layers()): // a partial disk's missing parent
		out.State = StateNeedsParent
	case e.State == vhdx.FullyPresent || e.State == vhdx.PartiallyPresent:
		out.Stored, out.FileOffset = true, e.FileOffset
	}
	return out
}
