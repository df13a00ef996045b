// Package ext browses ext2, ext3 and ext4 filesystems: directories (linear
// and hashed, with deleted entries still held in directory slack), inodes
// with every timestamp, extent trees and indirect block maps, inline data,
// and symbolic links.
//
// It reads the on-disk structures itself: the ext reader evaluated for the
// project (github.com/masahiro331/go-ext4-filesystem) exposes neither inode
// numbers, owners, timestamps other than mtime seconds, nor extents, and
// re-resolves every path from the root.
package ext

import (
	"encoding/binary"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/inodetree"
)

// Feature flags used by the reader.
const (
	incompatFiletype   = 0x2
	incompatMetaBG     = 0x10
	incompatExtents    = 0x40
	incompat64bit      = 0x80
	incompatInlineData = 0x8000
)

// Superblock holds the fields of the ext superblock the reader uses.
type Superblock struct {
	Offset          int64 // always 1024
	InodesCount     uint32
	BlocksCount     uint64
	FirstDataBlock  uint32
	LogBlockSize    uint32
	BlocksPerGroup  uint32
	InodesPerGroup  uint32
	Magic           uint16
	RevLevel        uint32
	InodeSize       uint16
	FeatureCompat   uint32
	FeatureIncompat uint32
	FeatureROCompat uint32
	DescSize        uint16
}

// FS is an open ext2/3/4 filesystem.
type FS struct {
	r         io.ReaderAt
	size      int64
	sb        Superblock
	blockSize int64
	// inodeTables holds each group's inode table byte offset.
	inodeTables []int64
	cache       blockCache
	// Tree gives the browsing methods (ReadDir, Stat, Open, Extents).
	*inodetree.Tree[*Inode]
}

// Superblock returns the filesystem's superblock.
func (fsys *FS) Superblock() Superblock { return fsys.sb }

// Open reads the superblock and group descriptors of the filesystem held in
// r's first size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	b := make([]byte, 1024)
	if _, err := r.ReadAt(b, 1024); err != nil {
		return nil, &filesystem.FormatError{Structure: "superblock", Offset: 1024, Err: filesystem.ErrCorrupt, Detail: err.Error()}
	}
	le := binary.LittleEndian
	sb := Superblock{
		Offset:          1024,
		InodesCount:     le.Uint32(b[0:]),
		BlocksCount:     uint64(le.Uint32(b[4:])),
		FirstDataBlock:  le.Uint32(b[0x14:]),
		LogBlockSize:    le.Uint32(b[0x18:]),
		BlocksPerGroup:  le.Uint32(b[0x20:]),
		InodesPerGroup:  le.Uint32(b[0x28:]),
		Magic:           le.Uint16(b[0x38:]),
		RevLevel:        le.Uint32(b[0x4C:]),
		InodeSize:       128,
		FeatureCompat:   le.Uint32(b[0x5C:]),
		FeatureIncompat: le.Uint32(b[0x60:]),
		FeatureROCompat: le.Uint32(b[0x64:]),
		DescSize:        32,
	}
	if sb.Magic != 0xEF53 {
		return nil, filesystem.Corrupt("superblock", 1024, "magic %#x, want 0xef53", sb.Magic)
	}
	if sb.RevLevel >= 1 {
		sb.InodeSize = le.Uint16(b[0x58:])
	}
	if sb.FeatureIncompat&incompat64bit != 0 {
		sb.BlocksCount |= uint64(le.Uint32(b[0x150:])) << 32
		sb.DescSize = le.Uint16(b[0xFE:])
	}
	switch {
	case sb.LogBlockSize > 6:
		return nil, filesystem.Corrupt("superblock", 1024, "block size 2^(10+%d)", sb.LogBlockSize)
	case sb.InodeSize < 128 || sb.InodeSize&(sb.InodeSize-1) != 0 || int64(sb.InodeSize) > 1024<<sb.LogBlockSize:
		return nil, filesystem.Corrupt("superblock", 1024, "inode size %d", sb.InodeSize)
	case sb.DescSize < 32 || sb.DescSize&(sb.DescSize-1) != 0 || int64(sb.DescSize) > 1024<<sb.LogBlockSize:
		return nil, filesystem.Corrupt("superblock", 1024, "group descriptor size %d", sb.DescSize)
	case sb.InodesPerGroup == 0 || sb.BlocksPerGroup == 0:
		return nil, filesystem.Corrupt("superblock", 1024, "zero inodes or blocks per group")
	case sb.FeatureIncompat&incompatMetaBG != 0:
		return nil, &filesystem.FormatError{Structure: "superblock", Offset: 1024 + 0x60, Err: filesystem.ErrUnknownType, Detail: "meta_bg group descriptors are not supported"}
	}
	fsys := &FS{r: r, size: size, sb: sb, blockSize: 1024 << sb.LogBlockSize}
	fsys.Tree = inodetree.New[*Inode](volume{fsys})
	groups := (uint64(sb.InodesCount) + uint64(sb.InodesPerGroup) - 1) / uint64(sb.InodesPerGroup)
	gdtOff := int64(sb.FirstDataBlock+1) * fsys.blockSize
	gdtLen := int64(groups) * int64(sb.DescSize)
	if gdtLen > size || gdtOff > size-gdtLen {
		return nil, filesystem.Corrupt("group descriptors", gdtOff, "%d groups do not fit in the filesystem", groups)
	}
	gdt := make([]byte, gdtLen)
	if _, err := r.ReadAt(gdt, gdtOff); err != nil {
		return nil, &filesystem.FormatError{Structure: "group descriptors", Offset: gdtOff, Err: filesystem.ErrCorrupt, Detail: err.Error()}
	}
	fsys.inodeTables = make([]int64, groups)
	for g := range fsys.inodeTables {
		d := gdt[g*int(sb.DescSize):]
		t := uint64(le.Uint32(d[8:]))
		if sb.DescSize >= 64 {
			t |= uint64(le.Uint32(d[0x28:])) << 32
		}
		if t >= uint64(size/fsys.blockSize) {
			return nil, filesystem.Corrupt("group descriptor", gdtOff+int64(g)*int64(sb.DescSize), "inode table at block %d beyond the end", t)
		}
		fsys.inodeTables[g] = int64(t) * fsys.blockSize
	}
	return fsys, nil
}

// src returns the filesystem's bytes.
func (fsys *FS) src() filedata.Source { return filedata.Source{R: fsys.r, Size: fsys.size} }

// readAt reads len(p) bytes at off, failing with a *FormatError naming
// structure when they are not all there.
func (fsys *FS) readAt(p []byte, off int64, structure string) error {
	return fsys.src().Read(p, off, structure)
}

// block returns block n, through a small cache.
func (fsys *FS) block(n uint64, structure string) ([]byte, error) {
	if b := fsys.cache.get(n); b != nil {
		return b, nil
	}
	if n >= uint64(fsys.size/fsys.blockSize) {
		return nil, filesystem.Corrupt(structure, int64(n), "block %d beyond the end", n)
	}
	b := make([]byte, fsys.blockSize)
	if err := fsys.readAt(b, int64(n)*fsys.blockSize, structure); err != nil {
		return nil, err
	}
	fsys.cache.put(n, b)
	return b, nil
}

// blockCache keeps recently read metadata blocks (inode tables, extent
// tree nodes, directories); it is emptied when full.
type blockCache struct {
	m map[uint64][]byte
}

const cacheBlocks = 1024

func (c *blockCache) get(n uint64) []byte { return c.m[n] }

func (c *blockCache) put(n uint64, b []byte) {
	if c.m == nil || len(c.m) >= cacheBlocks {
		c.m = make(map[uint64][]byte, cacheBlocks)
	}
	c.m[n] = b
}
