package xfs

import (
	"io"
	"sort"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// file reads a file's data through its extents, or from local data.
type file struct {
	fsys   *FS
	size   int64
	exts   []extent
	local  []byte // data held in the inode (local format)
	isLocl bool
}

func (fsys *FS) open(ino *Inode) (*file, error) {
	f := &file{fsys: fsys, size: ino.Size}
	switch ino.Format {
	case formatLocal:
		if ino.Size > int64(len(ino.Fork)) {
			return nil, filesystem.Corrupt("inode", ino.Offset, "inode %d: %d bytes of local data in a %d-byte fork", ino.Number, ino.Size, len(ino.Fork))
		}
		f.local, f.isLocl = ino.Fork[:ino.Size], true
	case formatExtents, formatBtree:
		exts, err := fsys.extents(ino)
		if err != nil {
			return nil, err
		}
		f.exts = exts
	default:
		f.isLocl = true // devices: no data
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
	p = p[:min(int64(want), f.size-off)]
	if f.isLocl {
		clear(p)
		if off < int64(len(f.local)) {
			copy(p, f.local[off:])
		}
	} else if err := f.read(p, off); err != nil {
		return 0, err
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// read fills p from off: extents where written, zeros elsewhere.
func (f *file) read(p []byte, off int64) error {
	bl := f.fsys.sb.BlockLog
	for len(p) > 0 {
		blk := uint64(off >> bl)
		i := sort.Search(len(f.exts), func(i int) bool { return f.exts[i].StartOff+f.exts[i].Count > blk })
		var n int64
		if i == len(f.exts) || f.exts[i].StartOff > blk {
			end := f.size
			if i < len(f.exts) {
				end = int64(f.exts[i].StartOff) << bl
			}
			n = min(int64(len(p)), end-off)
			clear(p[:n])
		} else {
			e := f.exts[i]
			n = min(int64(len(p)), int64(e.StartOff+e.Count)<<bl-off)
			if e.Unwritten {
				clear(p[:n])
			} else {
				base, _ := f.fsys.fsbOffset(e.StartBlock)
				if err := f.fsys.readAt(p[:n], base+off-int64(e.StartOff)<<bl, "file data"); err != nil {
					return err
				}
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

// Extents returns the written extents as filesystem byte ranges. Extents
// of one file may cross allocation groups; each is contiguous on disk.
func (f *file) Extents() []filesystem.Extent {
	bl := f.fsys.sb.BlockLog
	var out []filesystem.Extent
	for _, e := range f.exts {
		fo := int64(e.StartOff) << bl
		if e.Unwritten || fo >= f.size {
			continue
		}
		base, _ := f.fsys.fsbOffset(e.StartBlock)
		out = append(out, filesystem.Extent{FileOffset: fo, Offset: base, Length: min(int64(e.Count)<<bl, f.size-fo)})
	}
	return out
}

// symlink returns a symbolic link's target: local data, or remote blocks.
// On v5 each remote block starts with a 56-byte XSLM header; mkfs.xfs 6.1
// writes protofile links without it, so a first block without the
// signature is read as plain data.
func (fsys *FS) symlink(ino *Inode) (string, error) {
	if ino.Size > 1024 {
		return "", filesystem.Corrupt("symbolic link", ino.Offset, "%d bytes", ino.Size)
	}
	f, err := fsys.open(ino)
	if err != nil {
		return "", err
	}
	bs := int64(fsys.sb.BlockSize)
	whole := &file{fsys: fsys, size: max(ino.Size, bs), exts: f.exts, local: f.local, isLocl: f.isLocl}
	b := make([]byte, whole.size)
	if _, err := whole.ReadAt(b, 0); err != nil && err != io.EOF {
		return "", err
	}
	if f.isLocl || !fsys.sb.V5() || string(b[:4]) != "XSLM" {
		return string(b[:ino.Size]), nil
	}
	var out []byte
	for pos := int64(0); int64(len(out)) < ino.Size; pos += bs {
		blk := make([]byte, bs)
		g := &file{fsys: fsys, size: pos + bs, exts: f.exts}
		if _, err := g.ReadAt(blk, pos); err != nil && err != io.EOF {
			return "", err
		}
		if string(blk[:4]) != "XSLM" {
			return "", filesystem.Corrupt("symbolic link block", ino.Offset, "no XSLM signature")
		}
		out = append(out, blk[56:min(bs, 56+ino.Size-int64(len(out)))]...)
	}
	return string(out), nil
}
