package ext

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

const rootInode = 2

// Inode flags used by the reader.
const (
	flagIndex      = 0x1000
	flagExtents    = 0x80000
	flagInlineData = 0x10000000
)

// Inode is an ext inode as stored in its group's inode table.
type Inode struct {
	Number     uint32
	Offset     int64 // byte offset of the inode in the filesystem
	Mode       uint16
	UID, GID   uint32
	Size       int64
	LinksCount uint16
	Flags      uint32
	Dtime      uint32
	// Block is i_block: block pointers, an extent tree root, inline data or
	// a fast symbolic link's target.
	Block [60]byte
	// Atime, Ctime, Mtime, Crtime: Crtime is nil without a large inode.
	Atime, Ctime, Mtime, Crtime *time.Time
	// Extra is the inode's in-inode extended attribute area, if any.
	Extra []byte
}

// inode reads inode number n.
func (fsys *FS) inode(n uint32) (*Inode, error) {
	if n == 0 || n > fsys.sb.InodesCount {
		return nil, filesystem.Corrupt("inode", 0, "inode number %d out of range 1..%d", n, fsys.sb.InodesCount)
	}
	g, i := (n-1)/fsys.sb.InodesPerGroup, (n-1)%fsys.sb.InodesPerGroup
	off := fsys.inodeTables[g] + int64(i)*int64(fsys.sb.InodeSize)
	blk, err := fsys.block(uint64(off/fsys.blockSize), "inode table")
	if err != nil {
		return nil, err
	}
	in := off % fsys.blockSize
	return parseInode(n, off, blk[in:in+int64(fsys.sb.InodeSize)]), nil
}

func parseInode(n uint32, off int64, b []byte) *Inode {
	le := binary.LittleEndian
	ino := &Inode{
		Number:     n,
		Offset:     off,
		Mode:       le.Uint16(b[0:]),
		UID:        uint32(le.Uint16(b[2:])) | uint32(le.Uint16(b[0x78:]))<<16,
		GID:        uint32(le.Uint16(b[0x18:])) | uint32(le.Uint16(b[0x7A:]))<<16,
		Size:       int64(uint64(le.Uint32(b[4:])) | uint64(le.Uint32(b[0x6C:]))<<32),
		LinksCount: le.Uint16(b[0x1A:]),
		Flags:      le.Uint32(b[0x20:]),
		Dtime:      le.Uint32(b[0x14:]),
	}
	copy(ino.Block[:], b[0x28:0x64])
	extra := 0
	if len(b) > 0x82 {
		extra = int(le.Uint16(b[0x80:]))
		if 0x80+extra > len(b) {
			extra = 0
		}
	}
	// A time field of the large inode exists when it fits in i_extra_isize.
	// The four times share one allocation.
	times := new([4]time.Time)
	stamp := func(i, lo, hi int) *time.Time {
		sec := int64(int32(le.Uint32(b[lo:])))
		var nsec int64
		if hi+4 <= 0x80+extra {
			x := le.Uint32(b[hi:])
			sec += int64(x&3) << 32
			nsec = int64(x >> 2)
		}
		times[i] = time.Unix(sec, nsec).UTC()
		return &times[i]
	}
	ino.Atime = stamp(0, 0x8, 0x8C)
	ino.Ctime = stamp(1, 0xC, 0x84)
	ino.Mtime = stamp(2, 0x10, 0x88)
	if 0x94+4 <= 0x80+extra {
		ino.Crtime = stamp(3, 0x90, 0x94)
	}
	if 0x80+extra+4 <= len(b) {
		ino.Extra = b[0x80+extra:]
	}
	ino.Size = max(ino.Size, 0)
	return ino
}

// entry describes inode ino under name at path p.
func (fsys *FS) entry(ino *Inode, name, p string, deleted bool) filesystem.Entry {
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
		ID:       strconv.FormatUint(uint64(ino.Number), 10),
		Deleted:  deleted,
	}
	if e.Type == filesystem.TypeSymlink && !deleted {
		if t, err := fsys.readAll(ino, 4096); err == nil {
			e.Target = string(t)
		}
	}
	return e
}
