package xfs

import (
	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/inodetree"
)

// volume gives inodetree what it needs of an XFS filesystem. XFS keeps no
// names of removed entries worth listing: their space is merged into
// unused regions of the directory block.
type volume struct{ fsys *FS }

func (v volume) Root() uint64 { return v.fsys.sb.RootIno }

func (v volume) Inode(n uint64) (*Inode, error) { return v.fsys.inode(n) }

func (v volume) IsDir(ino *Inode) bool {
	return filesystem.ModeType(uint32(ino.Mode)) == filesystem.TypeDir
}

func (v volume) Dirents(ino *Inode, fn func(inodetree.Dirent) error) error {
	return v.fsys.dirents(ino, func(d Dirent) error {
		return fn(inodetree.Dirent{Inode: d.Inode, Name: d.Name})
	})
}

func (v volume) Entry(ino *Inode, d inodetree.Dirent, p string) filesystem.Entry {
	return v.fsys.entry(ino, d.Name, p)
}

func (v volume) Open(ino *Inode) (inodetree.File, error) { return v.fsys.open(ino) }
