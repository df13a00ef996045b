package xfs

import (
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/inodetree"
)

// leafOffset is where a directory's leaf and free-index blocks start in
// its file: entries live in the data blocks below it (32 GiB).
const leafOffset = 32 << 30

// Dirent is a directory entry.
type Dirent struct {
	Offset int64 // position in the directory's data (short form: in the fork)
	Inode  uint64
	Name   string
}

// dirents calls fn for each entry of directory ino, "." and ".." left out.
func (fsys *FS) dirents(ino *Inode, fn func(Dirent) error) error {
	if filesystem.ModeType(uint32(ino.Mode)) != filesystem.TypeDir {
		return filesystem.ErrNotDir
	}
	emit := inodetree.Names(ino.Offset, func(d Dirent) string { return d.Name }, fn)
	if ino.Format == formatLocal {
		return fsys.shortForm(ino, emit)
	}
	f, err := fsys.open(ino)
	if err != nil {
		return err
	}
	db := fsys.sb.DirBlkBytes
	b := make([]byte, db)
	for _, r := range f.Runs {
		start := r.FileOffset
		end := min(r.FileOffset+r.Length, leafOffset, f.FileSize)
		for off := start - start%db; off < end; off += db {
			if off < start {
				continue
			}
			n, err := f.ReadAt(b, off)
			if err != nil && err != io.EOF {
				return err
			}
			if err := fsys.dataBlock(b[:n], off, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// shortForm parses a directory held in the inode's data fork.
func (fsys *FS) shortForm(ino *Inode, fn func(Dirent) error) error {
	f := ino.Fork
	if len(f) < 6 {
		return filesystem.Corrupt("short-form directory", ino.Offset, "fork too small")
	}
	count, i8 := int(f[0]), f[1] != 0
	if i8 {
		count = int(f[1])
	}
	inoLen := 4
	if i8 {
		inoLen = 8
	}
	pos := 2 + inoLen
	for range count {
		if pos+3 > len(f) {
			return filesystem.Corrupt("short-form directory", ino.Offset, "entries beyond the fork")
		}
		nl := int(f[pos])
		next := pos + 3 + nl + inoLen
		if fsys.ftype() {
			next++
		}
		if nl == 0 || next > len(f) {
			return filesystem.Corrupt("short-form directory", ino.Offset, "entry at %d", pos)
		}
		name := string(f[pos+3 : pos+3+nl])
		var n uint64
		if i8 {
			n = be.Uint64(f[next-8:])
		} else {
			n = uint64(be.Uint32(f[next-4:]))
		}
		if err := fn(Dirent{Offset: int64(pos), Inode: n, Name: name}); err != nil {
			return err
		}
		pos = next
	}
	return nil
}

// dataBlock parses a directory data block (block-form or data) at offset
// off in the directory.
func (fsys *FS) dataBlock(b []byte, off int64, fn func(Dirent) error) error {
	if len(b) < 16 {
		return nil
	}
	hdr, end := 16, len(b)
	switch string(b[:4]) {
	case "XD2D":
	case "XDD3":
		hdr = 64
	case "XD2B", "XDB3":
		if string(b[:4]) == "XDB3" {
			hdr = 64
		}
		// Block form: the leaf entries and the tail end the block.
		leaves := int64(be.Uint32(b[len(b)-8:]))
		if 8+8*leaves > int64(len(b)-hdr) {
			return filesystem.Corrupt("directory block", off, "%d leaf entries", leaves)
		}
		end = len(b) - 8 - 8*int(leaves)
	default:
		return nil // a hole or a block that is not a data block
	}
	for pos := hdr; pos+8 <= end; {
		if be.Uint16(b[pos:]) == 0xFFFF { // unused space
			n := int(be.Uint16(b[pos+2:]))
			if n < 8 || n%8 != 0 {
				return filesystem.Corrupt("directory block", off+int64(pos), "free space of %d bytes", n)
			}
			pos += n
			continue
		}
		if pos+9 > end {
			break
		}
		nl := int(b[pos+8])
		size := 8 + 1 + nl + 2
		if fsys.ftype() {
			size++
		}
		size = (size + 7) &^ 7
		if nl == 0 || pos+size > end {
			return filesystem.Corrupt("directory entry", off+int64(pos), "name of %d bytes", nl)
		}
		if err := fn(Dirent{Offset: off + int64(pos), Inode: be.Uint64(b[pos:]), Name: string(b[pos+9 : pos+9+nl])}); err != nil {
			return err
		}
		pos += size
	}
	return nil
}
