package ext

import (
	"encoding/binary"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
)

// open returns ino's data: its block runs, or its inline data.
func (fsys *FS) open(ino *Inode) (*filedata.File, error) {
	f := &filedata.File{Src: fsys.src(), FileSize: ino.Size, Valid: ino.Size}
	switch {
	case ino.Flags&flagInlineData != 0:
		d, err := inlineData(ino)
		if err != nil {
			return nil, err
		}
		f.Inline = d
	case filesystem.ModeType(uint32(ino.Mode)) == filesystem.TypeSymlink && ino.Size < 60 && ino.Flags&flagExtents == 0:
		f.Inline = ino.Block[:ino.Size]
	default:
		r, err := fsys.runs(ino)
		if err != nil {
			return nil, err
		}
		bs := fsys.blockSize
		f.Runs = make([]filedata.Run, len(r))
		for i, r := range r {
			f.Runs[i] = filedata.Run{FileOffset: int64(r.Logical) * bs, Offset: int64(r.Physical) * bs, Length: int64(r.Length) * bs, Unwritten: r.Unwritten}
		}
	}
	return f, nil
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
