package xfs

import (
	"strconv"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// Data fork formats.
const (
	formatDev     = 0
	formatLocal   = 1
	formatExtents = 2
	formatBtree   = 3
)

// diflag2Bigtime marks an inode whose timestamps are big timestamps.
const diflag2Bigtime = 0x8

// Inode is an XFS inode core and its data fork.
type Inode struct {
	Number   uint64
	Offset   int64 // byte offset of the inode
	Mode     uint16
	Version  uint8
	Format   uint8
	UID, GID uint32
	Size     int64
	NExtents uint32
	// Atime, Mtime, Ctime, Crtime: Crtime is nil on v4 inodes.
	Atime, Mtime, Ctime, Crtime *time.Time
	// Fork is the data fork: extent records, a B+tree root, local data.
	Fork []byte
}

// inode reads inode number n.
func (fsys *FS) inode(n uint64) (*Inode, error) {
	sb := &fsys.sb
	ag := n >> (uint(sb.AGBlkLog) + uint(sb.InoPBLog))
	agino := n & (1<<(uint(sb.AGBlkLog)+uint(sb.InoPBLog)) - 1)
	agb, idx := agino>>sb.InoPBLog, agino&(1<<sb.InoPBLog-1)
	if ag >= uint64(sb.AGCount) || agb >= uint64(sb.AGBlocks) {
		return nil, filesystem.Corrupt("inode", 0, "inode number %d outside the filesystem", n)
	}
	off := int64(ag*uint64(sb.AGBlocks)+agb)<<sb.BlockLog + int64(idx)<<sb.InodeLog
	b := make([]byte, sb.InodeSize)
	if err := fsys.readAt(b, off, "inode"); err != nil {
		return nil, err
	}
	if b[0] != 'I' || b[1] != 'N' {
		return nil, filesystem.Corrupt("inode", off, "inode %d: no IN signature", n)
	}
	ino := &Inode{
		Number:   n,
		Offset:   off,
		Mode:     be.Uint16(b[2:]),
		Version:  b[4],
		Format:   b[5],
		UID:      be.Uint32(b[8:]),
		GID:      be.Uint32(b[12:]),
		Size:     int64(be.Uint64(b[56:])),
		NExtents: be.Uint32(b[76:]),
	}
	core := 100
	bigtime := false
	if ino.Version == 3 {
		core = 176
		bigtime = be.Uint64(b[120:])&diflag2Bigtime != 0
	}
	if ino.Size < 0 {
		return nil, filesystem.Corrupt("inode", off+56, "inode %d: size %d", n, ino.Size)
	}
	ino.Atime, ino.Mtime, ino.Ctime = stamp(b[32:], bigtime), stamp(b[40:], bigtime), stamp(b[48:], bigtime)
	if ino.Version == 3 {
		ino.Crtime = stamp(b[144:], bigtime)
	}
	end := len(b)
	if forkoff := int(b[82]); forkoff != 0 {
		end = core + 8*forkoff
	}
	if end > len(b) || end < core {
		return nil, filesystem.Corrupt("inode", off+82, "inode %d: attribute fork offset %d", n, b[82])
	}
	ino.Fork = b[core:end]
	return ino, nil
}

// stamp reads a timestamp: seconds and nanoseconds (32 bits each), or a
// big timestamp (nanoseconds since 1901-12-13 20:45:52 UTC).
func stamp(b []byte, bigtime bool) *time.Time {
	var t time.Time
	if bigtime {
		ns := be.Uint64(b)
		t = time.Unix(int64(ns/1e9)-(1<<31), int64(ns%1e9)).UTC()
	} else {
		t = time.Unix(int64(int32(be.Uint32(b))), int64(be.Uint32(b[4:]))).UTC()
	}
	return &t
}

// entry describes inode ino under name at path p.
func (fsys *FS) entry(ino *Inode, name, p string) filesystem.Entry {
	e := filesystem.Entry{
		Name:     name,
		Path:     p,
		Type:     filesystem.ModeType(uint32(ino.Mode)),
		Size:     ino.Size,
		Modified: ino.Mtime,
		Accessed: ino.Atime,
		Changed:  ino.Ctime,
		Born:     ino.Crtime,
		Mode:     uint32(ino.Mode),
		HasOwner: true,
		UID:      ino.UID,
		GID:      ino.GID,
		ID:       strconv.FormatUint(ino.Number, 10),
	}
	if e.Type == filesystem.TypeSymlink {
		if t, err := fsys.symlink(ino); err == nil {
			e.Target = t
		}
	}
	return e
}
