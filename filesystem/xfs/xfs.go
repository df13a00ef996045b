// Package xfs browses XFS filesystems (v4 and v5): short-form, block, leaf
// and node directories, inodes with every timestamp (big timestamps too),
// extent lists and B+tree block maps, and symbolic links.
//
// It reads the on-disk structures itself: the XFS reader evaluated for the
// project (github.com/masahiro331/go-xfs-filesystem) exposes neither inode
// numbers, owners, timestamps other than mtime, nor extents, and reads
// through a shared seek offset.
package xfs

import (
	"encoding/binary"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/inodetree"
)

var be = binary.BigEndian

// Feature bits used by the reader.
const (
	version2Ftype   = 0x200 // sb_features2: directory entries carry the file type (v4)
	incompatFtype   = 0x1
	incompatBigtime = 0x8
	incompatNrext64 = 0x20
)

// Superblock holds the fields of the primary superblock the reader uses.
type Superblock struct {
	Offset      int64 // always 0
	BlockSize   uint32
	DBlocks     uint64
	RootIno     uint64
	AGBlocks    uint32
	AGCount     uint32
	VersionNum  uint16
	InodeSize   uint16
	InoPBlock   uint16
	BlockLog    uint8
	InodeLog    uint8
	InoPBLog    uint8
	AGBlkLog    uint8
	DirBlkLog   uint8
	Features2   uint32
	Incompat    uint32
	DirBlkBytes int64 // directory block size
}

// V5 reports whether the filesystem has v5 (CRC) metadata.
func (sb *Superblock) V5() bool { return sb.VersionNum&0xF == 5 }

// FS is an open XFS filesystem.
type FS struct {
	r    io.ReaderAt
	size int64
	sb   Superblock
	// Tree gives the browsing methods (ReadDir, Stat, Open, Extents).
	*inodetree.Tree[*Inode]
}

// Superblock returns the primary superblock.
func (fsys *FS) Superblock() Superblock { return fsys.sb }

// Open reads the primary superblock of the XFS filesystem held in r's
// first size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, &filesystem.FormatError{Structure: "superblock", Err: filesystem.ErrCorrupt, Detail: err.Error()}
	}
	if string(b[:4]) != "XFSB" {
		return nil, filesystem.Corrupt("superblock", 0, "no XFSB signature")
	}
	sb := Superblock{
		BlockSize:  be.Uint32(b[4:]),
		DBlocks:    be.Uint64(b[8:]),
		RootIno:    be.Uint64(b[56:]),
		AGBlocks:   be.Uint32(b[84:]),
		AGCount:    be.Uint32(b[88:]),
		VersionNum: be.Uint16(b[100:]),
		InodeSize:  be.Uint16(b[104:]),
		InoPBlock:  be.Uint16(b[106:]),
		BlockLog:   b[120],
		InodeLog:   b[122],
		InoPBLog:   b[123],
		AGBlkLog:   b[124],
		DirBlkLog:  b[192],
		Features2:  be.Uint32(b[200:]),
	}
	if sb.V5() {
		sb.Incompat = be.Uint32(b[216:])
	}
	switch {
	case sb.BlockLog < 9 || sb.BlockLog > 16 || sb.BlockSize != 1<<sb.BlockLog:
		return nil, filesystem.Corrupt("superblock", 4, "block size %d (log %d)", sb.BlockSize, sb.BlockLog)
	case sb.InodeLog < 8 || sb.InodeLog > 11 || sb.InodeSize != 1<<sb.InodeLog || sb.InodeLog > sb.BlockLog:
		return nil, filesystem.Corrupt("superblock", 104, "inode size %d", sb.InodeSize)
	case sb.InoPBLog != sb.BlockLog-sb.InodeLog || sb.InoPBlock != 1<<sb.InoPBLog:
		return nil, filesystem.Corrupt("superblock", 106, "%d inodes per block", sb.InoPBlock)
	case sb.AGBlkLog > 31 || sb.AGBlocks == 0 || sb.AGBlocks > 1<<sb.AGBlkLog || sb.AGCount == 0:
		return nil, filesystem.Corrupt("superblock", 84, "%d blocks per group (log %d), %d groups", sb.AGBlocks, sb.AGBlkLog, sb.AGCount)
	case int(sb.BlockLog)+int(sb.DirBlkLog) > 16:
		return nil, filesystem.Corrupt("superblock", 192, "directory block log %d", sb.DirBlkLog)
	case sb.Incompat&incompatNrext64 != 0:
		return nil, &filesystem.FormatError{Structure: "superblock", Offset: 216, Err: filesystem.ErrUnknownType, Detail: "64-bit extent counters (nrext64) are not supported"}
	}
	sb.DirBlkBytes = int64(sb.BlockSize) << sb.DirBlkLog
	fsys := &FS{r: r, size: size, sb: sb}
	fsys.Tree = inodetree.New[*Inode](volume{fsys})
	return fsys, nil
}

// ftype reports whether directory entries carry a file type byte.
func (fsys *FS) ftype() bool {
	return fsys.sb.Incompat&incompatFtype != 0 || fsys.sb.Features2&version2Ftype != 0
}

// fsbOffset returns the byte offset of filesystem block fsb (AG number in
// the high bits, block in the AG in the low AGBlkLog bits).
func (fsys *FS) fsbOffset(fsb uint64) (int64, bool) {
	ag, agb := fsb>>fsys.sb.AGBlkLog, fsb&(1<<fsys.sb.AGBlkLog-1)
	if ag >= uint64(fsys.sb.AGCount) || agb >= uint64(fsys.sb.AGBlocks) {
		return 0, false
	}
	return int64(ag*uint64(fsys.sb.AGBlocks)+agb) << fsys.sb.BlockLog, true
}

// src returns the filesystem's bytes.
func (fsys *FS) src() filedata.Source { return filedata.Source{R: fsys.r, Size: fsys.size} }

// readAt reads len(p) bytes at off, or fails naming structure.
func (fsys *FS) readAt(p []byte, off int64, structure string) error {
	return fsys.src().Read(p, off, structure)
}
