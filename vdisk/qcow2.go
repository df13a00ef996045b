package vdisk

import (
	"errors"
	"io"
	"path"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
)

// qcow2Image adapts a *qcow2.Image.
type qcow2Image struct{ img *qcow2.Image }

func openQCOW2(r io.ReaderAt, size int64) (format, error) {
	img, err := qcow2.Open(r, size)
	if img == nil {
		return nil, err
	}
	return qcow2Image{img}, err
}

func (q qcow2Image) native() any { return q.img }

func (q qcow2Image) fields() []Field {
	var out []Field
	for _, f := range q.img.Fields() {
		out = append(out, Field(f))
	}
	return out
}

func (q qcow2Image) check() []Finding {
	in := q.img.Check()
	out := make([]Finding, 0, len(in))
	for _, f := range in {
		out = append(out, Finding{Code: f.Code, Severity: Severity(f.Severity), Structure: f.Structure, Offset: f.Offset, Message: f.Message})
	}
	return out
}

func (q qcow2Image) references() []Reference {
	var out []Reference
	if q.img.DataFile != "" {
		out = append(out, qcow2Ref(q.img, qcow2.Reference{Kind: qcow2.DataFile, Name: q.img.DataFile}))
	}
	if q.img.BackingFile != "" {
		out = append(out, qcow2Ref(q.img, qcow2.Reference{Kind: qcow2.BackingFile, Name: q.img.BackingFile, Format: q.img.BackingFormat}))
	}
	return out
}

// qcow2Ref describes a reference of img: a backing file (named at the
// header's backing file offset) or an external data file (named in its
// header extension). img may be nil when it is not known.
func qcow2Ref(img *qcow2.Image, r qcow2.Reference) Reference {
	out := Reference{Role: RoleBacking, Name: path.Base(r.Name), Paths: []string{r.Name}, Format: Format(r.Format), Offset: -1}
	if r.Kind == qcow2.DataFile {
		out.Role, out.Format = RoleDataFile, Raw
	}
	switch {
	case img == nil:
	case r.Kind == qcow2.DataFile:
		for _, e := range img.Extensions {
			if e.Type == qcow2.ExtDataFile {
				out.Offset = e.Offset
			}
		}
	case img.Header != nil:
		out.Offset = int64(img.Header.BackingFileOffset)
	}
	return out
}

func (q qcow2Image) openDisk(img *Image, resolve Resolver, snapshot string) (*Disk, error) {
	var qr qcow2.Resolver
	if resolve != nil {
		qr = func(from string, r qcow2.Reference) (io.ReaderAt, int64, string, error) {
			return resolve(from, qcow2Ref(nil, r))
		}
	}
	var d *qcow2.Disk
	var err error
	if snapshot != "" {
		d, err = qcow2.OpenChainSnapshot(q.img, img.Name, snapshot, qr)
	} else {
		d, err = qcow2.OpenChain(q.img, img.Name, qr)
	}
	if err == nil {
		return &Disk{d: qcow2Disk{d}, layers: qcow2Layers(d.Layers())}, nil
	}
	var ce *qcow2.ChainError
	if !errors.As(err, &ce) {
		return nil, err
	}
	var from *qcow2.Image // the image that refers to the file, for the offset where it does
	for _, l := range ce.Found {
		if l.Image != nil {
			from = l.Image
		}
	}
	out := &ChainError{From: ce.Child, Ref: qcow2Ref(from, ce.Ref), Msg: ce.Msg, Found: qcow2Layers(ce.Found), cause: err}
	switch {
	case errors.Is(err, qcow2.ErrBackingNotFound):
		out.Err = ErrMissing
	case errors.Is(err, qcow2.ErrChainLoop):
		out.Err = ErrLoop
	case errors.Is(err, qcow2.ErrChainTooDeep):
		out.Err = ErrTooDeep
	default:
		out.Err = ErrMismatch
	}
	return nil, out
}

// qcow2Layers wraps the layers of a qcow2 chain; raw backing and data
// files become raw images.
func qcow2Layers(in []qcow2.Layer) []Layer {
	out := make([]Layer, len(in))
	for i, l := range in {
		img := &Image{Format: Raw, Name: l.Name, Size: l.Size, f: &rawImage{size: l.Size}}
		if l.Image != nil {
			img = &Image{Format: QCOW2, Name: l.Name, Size: l.Size, f: qcow2Image{l.Image}}
		}
		role := RoleBacking
		switch l.Role {
		case qcow2.RoleImage:
			role = RoleImage
		case qcow2.RoleDataFile:
			role = RoleDataFile
		}
		out[i] = Layer{Name: l.Name, Role: role, Image: img}
	}
	return out
}

// qcow2Disk adapts a *qcow2.Disk.
type qcow2Disk struct{ *qcow2.Disk }

func (d qcow2Disk) extents(fn func(Extent) error) error {
	return d.Extents(func(e qcow2.Extent) error { return fn(qcow2Extent(e)) })
}

func (d qcow2Disk) runs(off, n int64, fn func(Extent) error) error {
	return d.Runs(off, n, func(e qcow2.Extent) error { return fn(qcow2Extent(e)) })
}

func qcow2Extent(e qcow2.Extent) Extent {
	out := Extent{Start: e.Start, Length: e.Length, State: e.Kind.String(), Layer: e.Layer}
	if e.Kind == qcow2.Normal || e.Kind == qcow2.Compressed {
		out.Stored, out.FileOffset = true, e.FileOffset
	}
	return out
}
