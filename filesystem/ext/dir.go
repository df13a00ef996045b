package ext

import (
	"bytes"
	"encoding/binary"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/inodetree"
)

// Dirent is an ext directory entry (ext4_dir_entry_2).
type Dirent struct {
	Offset   int64 // position in the directory's data
	Inode    uint32
	Name     string
	FileType byte
	// Deleted marks an entry found in the unused space after a live entry:
	// what is left of a removed name.
	Deleted bool
}

// dirents calls fn for each entry of directory ino, "." and ".." left out.
func (fsys *FS) dirents(ino *Inode, fn func(d Dirent) error) error {
	if filesystem.ModeType(uint32(ino.Mode)) != filesystem.TypeDir {
		return filesystem.ErrNotDir
	}
	f, err := fsys.open(ino)
	if err != nil {
		return err
	}
	emit := inodetree.Names(ino.Offset, func(d Dirent) string { return d.Name }, fn)
	if f.Inline != nil {
		// Inline directory: the parent's inode number, then entries in the
		// rest of i_block and in the system.data attribute.
		if len(f.Inline) < 4 {
			return nil
		}
		if err := fsys.parseBlock(f.Inline[4:min(60, len(f.Inline))], 4, false, emit); err != nil {
			return err
		}
		if len(f.Inline) > 60 {
			return fsys.parseBlock(f.Inline[60:], 60, false, emit)
		}
		return nil
	}
	htree := ino.Flags&flagIndex != 0
	b := make([]byte, fsys.blockSize)
	for _, r := range f.Runs {
		if r.Unwritten {
			continue
		}
		for off := r.FileOffset; off < r.FileOffset+r.Length; off += fsys.blockSize {
			n, err := f.ReadAt(b, off)
			if err != nil && err != io.EOF {
				return err
			}
			if err := fsys.parseBlock(b[:n], off, htree, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseBlock parses the entries of one directory block at offset off in
// the directory, with the deleted entries still readable in their slack.
// In a hashed directory, the index held in the slack of ".." and in blocks
// that hold one empty entry is not taken for deleted entries.
func (fsys *FS) parseBlock(b []byte, off int64, htree bool, fn func(Dirent) error) error {
	le := binary.LittleEndian
	for pos := 0; pos+8 <= len(b); {
		inode, reclen := le.Uint32(b[pos:]), int(le.Uint16(b[pos+4:]))
		nl := fsys.nameLen(b[pos:])
		if reclen < 8 || reclen%4 != 0 || pos+reclen > len(b) || 8+nl > reclen {
			return nil // the rest of the block is damaged
		}
		if inode != 0 {
			if err := fn(Dirent{Offset: off + int64(pos), Inode: inode, Name: string(b[pos+8 : pos+8+nl]), FileType: b[pos+7]}); err != nil {
				return err
			}
		}
		dotdot := nl == 2 && b[pos+8] == '.' && b[pos+9] == '.'
		if !(htree && (dotdot || (inode == 0 && reclen == len(b)))) {
			if err := fsys.slack(b[pos+(8+nl+3)&^3:pos+reclen], off+int64(pos+(8+nl+3)&^3), fn); err != nil {
				return err
			}
		}
		pos += reclen
	}
	return nil
}

// slack finds removed entries in the unused space s after a live entry.
func (fsys *FS) slack(s []byte, off int64, fn func(Dirent) error) error {
	le := binary.LittleEndian
	for q := 0; q+12 <= len(s); {
		inode := le.Uint32(s[q:])
		nl := fsys.nameLen(s[q:])
		name := s[q+8 : min(len(s), q+8+nl)]
		if inode == 0 || inode > fsys.sb.InodesCount || nl == 0 || q+8+nl > len(s) || le.Uint16(s[q+4:]) < 8 ||
			bytes.IndexByte(name, '/') >= 0 || bytes.IndexByte(name, 0) >= 0 ||
			(fsys.sb.FeatureIncompat&incompatFiletype != 0 && (s[q+7] == 0 || s[q+7] > 7)) {
			q += 4
			continue
		}
		if err := fn(Dirent{Offset: off + int64(q), Inode: inode, Name: string(name), FileType: s[q+7], Deleted: true}); err != nil {
			return err
		}
		q += (8 + nl + 3) &^ 3
	}
	return nil
}

// nameLen reads the name length of the entry at the start of b: one byte
// with the filetype feature, two without.
func (fsys *FS) nameLen(b []byte) int {
	if fsys.sb.FeatureIncompat&incompatFiletype != 0 {
		return int(b[6])
	}
	return int(binary.LittleEndian.Uint16(b[6:]))
}
