package ntfs

import (
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// recordOf returns the record number of an entry ID "record-sequence".
func recordOf(id string) (uint64, error) {
	n, _, _ := strings.Cut(id, "-")
	return strconv.ParseUint(n, 10, 48)
}

// file reads one $DATA stream through the library.
type file struct {
	r    io.ReaderAt
	size int64
}

func (f *file) Size() int64 { return f.size }

// ReadAt reads the stream; bytes the library does not return (beyond the
// initialized length) read as zeros.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	return filedata.ReadAt(p, off, f.size, f.fill)
}

// fill reads p at off, within the stream, with zeros after what the
// library returns.
func (f *file) fill(p []byte, off int64) (int, error) {
	n, err := f.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		return n, err
	}
	clear(p[n:])
	return len(p), nil
}

// Open opens the data of the file at p, or of stream s with "p:s".
func (fsys *FS) Open(p string) (filesystem.File, error) {
	f, _, err := fsys.open(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "open", Path: p, Err: err}
	}
	return f, nil
}

func (fsys *FS) open(p string) (*file, []*parser.NTFS_ATTRIBUTE, error) {
	e, m, stream, err := fsys.stat(p)
	if err != nil {
		return nil, nil, err
	}
	if e.Type == filesystem.TypeDir && stream == "" {
		return nil, nil, filesystem.ErrIsDir
	}
	size := e.Size
	if stream != "" {
		size = -1
		for _, s := range e.Streams {
			if s.Name == stream {
				size = s.Size
			}
		}
		if size < 0 {
			return nil, nil, filesystem.ErrNotFound
		}
	}
	type opened struct {
		r     parser.RangeReaderAt
		attrs []*parser.NTFS_ATTRIBUTE
	}
	o, err := filesystem.Guard(library, func() (opened, error) {
		r, err := parser.OpenStream(fsys.ctx, m, parser.ATTR_TYPE_DATA, parser.WILDCARD_STREAM_ID, stream)
		if err != nil {
			return opened{}, err
		}
		return opened{r, parser.GetAllVCNs(fsys.ctx, m, parser.ATTR_TYPE_DATA, parser.WILDCARD_STREAM_ID, stream)}, nil
	})
	if err != nil {
		if size == 0 {
			return &file{r: eofReader{}, size: 0}, nil, nil
		}
		return nil, nil, err
	}
	return &file{r: filesystem.GuardReaderAt(library, o.r), size: size}, o.attrs, nil
}

// eofReader is the data of an empty stream.
type eofReader struct{}

func (eofReader) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }

// Extents returns where the stream's clusters lie (for a compressed
// stream, its compressed clusters); a resident stream has none.
func (fsys *FS) Extents(p string) ([]filesystem.Extent, error) {
	f, attrs, err := fsys.open(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "extents", Path: p, Err: err}
	}
	out, err := filesystem.Guard(library, func() ([]filesystem.Extent, error) {
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].Runlist_vcn_start() < attrs[j].Runlist_vcn_start() })
		cs := fsys.ctx.ClusterSize
		var runs []filedata.Run
		for _, a := range attrs {
			if a.IsResident() {
				continue
			}
			vcn := int64(a.Runlist_vcn_start())
			for _, r := range a.RunList() {
				// A sparse run has no clusters: it reads as zeros.
				runs = append(runs, filedata.Run{FileOffset: vcn * cs, Offset: r.Offset * cs, Length: r.Length * cs, Unwritten: r.RelativeUrnOffset == 0})
				vcn += r.Length
			}
		}
		return filedata.Extents(runs, f.size), nil
	})
	if err != nil {
		return nil, &filesystem.PathError{Op: "extents", Path: p, Err: err}
	}
	return out, nil
}
