package ext

import (
	"encoding/binary"
	"io"
	"sort"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// file reads a file's data through its block runs, or from its inline data.
type file struct {
	fsys   *FS
	size   int64
	runs   []run
	inline []byte // data held in the inode (inline data, fast symbolic link)
}

func (fsys *FS) open(ino *Inode) (*file, error) {
	f := &file{fsys: fsys, size: ino.Size}
	switch {
	case ino.Flags&flagInlineData != 0:
		d, err := inlineData(ino)
		if err != nil {
			return nil, err
		}
		f.inline = d
	case fileType(ino.Mode) == filesystem.TypeSymlink && ino.Size < 60 && ino.Flags&flagExtents == 0:
		f.inline = ino.Block[:ino.Size]
	default:
		r, err := fsys.runs(ino)
		if err != nil {
			return nil, err
		}
		f.runs = r
	}
	return f, nil
}

func (f *file) Size() int64 { return f.size }

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, filesystem.Corrupt("file", off, "negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > f.size-off {
		p = p[:f.size-off]
	}
	if f.runs == nil {
		clear(p)
		if off < int64(len(f.inline)) {
			copy(p, f.inline[off:])
		}
	} else if err := f.readRuns(p, off); err != nil {
		return 0, err
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// readRuns fills p from offset off, zeros where no written run lies.
func (f *file) readRuns(p []byte, off int64) error {
	bs := f.fsys.blockSize
	for len(p) > 0 {
		lb := uint64(off / bs)
		i := sort.Search(len(f.runs), func(i int) bool { return f.runs[i].Logical+f.runs[i].Length > lb })
		var n int64
		if i == len(f.runs) || f.runs[i].Logical > lb {
			// A hole up to the next run.
			end := f.size
			if i < len(f.runs) {
				end = int64(f.runs[i].Logical) * bs
			}
			n = min(int64(len(p)), end-off)
			clear(p[:n])
		} else {
			r := f.runs[i]
			end := int64(r.Logical+r.Length) * bs
			n = min(int64(len(p)), end-off)
			if r.Unwritten {
				clear(p[:n])
			} else {
				phys := int64(r.Physical)*bs + off - int64(r.Logical)*bs
				if err := f.fsys.readAt(p[:n], phys, "file data"); err != nil {
					return err
				}
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

// Extents returns the file's written runs as filesystem byte ranges.
func (f *file) Extents() []filesystem.Extent {
	bs := f.fsys.blockSize
	var out []filesystem.Extent
	for _, r := range f.runs {
		if r.Unwritten {
			continue
		}
		fo := int64(r.Logical) * bs
		out = append(out, filesystem.Extent{FileOffset: fo, Offset: int64(r.Physical) * bs, Length: min(int64(r.Length)*bs, f.size-fo)})
	}
	return out
}

// readAll returns up to limit bytes of ino's data.
func (fsys *FS) readAll(ino *Inode, limit int64) ([]byte, error) {
	if ino.Size > limit {
		return nil, filesystem.Corrupt("inode", ino.Offset, "%d bytes where at most %d are expected", ino.Size, limit)
	}
	f, err := fsys.open(ino)
	if err != nil {
		return nil, err
	}
	b := make([]byte, ino.Size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// inlineData returns the data of an inode with the inline-data flag: the
// 60 bytes of i_block followed by the value of the "system.data" extended
// attribute held in the inode.
func inlineData(ino *Inode) ([]byte, error) {
	d := append([]byte(nil), ino.Block[:]...)
	if ino.Size > 60 {
		v, ok := inodeXattr(ino.Extra, 7, "data")
		if !ok {
			return nil, filesystem.Corrupt("inline data", ino.Offset, "no system.data attribute for %d bytes", ino.Size)
		}
		d = append(d, v...)
	}
	if int64(len(d)) > ino.Size {
		d = d[:ino.Size]
	}
	return d, nil
}

// inodeXattr finds an extended attribute held in the inode body by its
// name index and name.
func inodeXattr(area []byte, index byte, name string) ([]byte, bool) {
	le := binary.LittleEndian
	if len(area) < 4 || le.Uint32(area) != 0xEA020000 {
		return nil, false
	}
	body := area[4:]
	for off := 0; off+16 <= len(body) && le.Uint32(body[off:]) != 0; {
		nl := int(body[off])
		if off+16+nl > len(body) {
			return nil, false
		}
		vo, vs := int(le.Uint16(body[off+2:])), int(le.Uint32(body[off+8:]))
		if body[off+1] == index && string(body[off+16:off+16+nl]) == name {
			if vo+vs > len(body) || vs < 0 {
				return nil, false
			}
			return body[vo : vo+vs], true
		}
		off += (16 + nl + 3) &^ 3
	}
	return nil, false
}
