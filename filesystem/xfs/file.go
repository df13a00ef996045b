package xfs

import (
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
)

// open returns ino's data: its extents, or local data in the inode.
func (fsys *FS) open(ino *Inode) (*filedata.File, error) {
	f := &filedata.File{Src: fsys.src(), FileSize: ino.Size, Valid: ino.Size}
	switch ino.Format {
	case formatLocal:
		if ino.Size > int64(len(ino.Fork)) {
			return nil, filesystem.Corrupt("inode", ino.Offset, "inode %d: %d bytes of local data in a %d-byte fork", ino.Number, ino.Size, len(ino.Fork))
		}
		f.Inline = ino.Fork[:ino.Size]
	case formatExtents, formatBtree:
		exts, err := fsys.extents(ino)
		if err != nil {
			return nil, err
		}
		bl := fsys.sb.BlockLog
		f.Runs = make([]filedata.Run, len(exts))
		for i, e := range exts {
			base, _ := fsys.fsbOffset(e.StartBlock)
			f.Runs[i] = filedata.Run{FileOffset: int64(e.StartOff) << bl, Offset: base, Length: int64(e.Count) << bl, Unwritten: e.Unwritten}
		}
	}
	return f, nil
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
	whole := *f
	whole.FileSize = max(ino.Size, bs)
	whole.Valid = whole.FileSize
	b := make([]byte, whole.FileSize)
	if _, err := whole.ReadAt(b, 0); err != nil && err != io.EOF {
		return "", err
	}
	if f.Runs == nil || !fsys.sb.V5() || string(b[:4]) != "XSLM" {
		return string(b[:ino.Size]), nil
	}
	var out []byte
	for pos := int64(0); int64(len(out)) < ino.Size; pos += bs {
		blk := make([]byte, bs)
		g := &filedata.File{Src: f.Src, FileSize: pos + bs, Valid: pos + bs, Runs: f.Runs}
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
