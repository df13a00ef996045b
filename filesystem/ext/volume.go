package ext

import (
	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/inodetree"
)

// volume gives inodetree what it needs of an ext filesystem.
type volume struct{ fsys *FS }

func (v volume) Root() uint64 { return rootInode }

func (v volume) Inode(n uint64) (*Inode, error) {
	if n > 1<<32-1 {
		return nil, filesystem.Corrupt("inode", 0, "inode number %d out of range", n)
	}
	return v.fsys.inode(uint32(n))
}

func (v volume) IsDir(ino *Inode) bool {
	return filesystem.ModeType(uint32(ino.Mode)) == filesystem.TypeDir
}

func (v volume) Dirents(ino *Inode, fn func(inodetree.Dirent) error) error {
	return v.fsys.dirents(ino, func(d Dirent) error {
		return fn(inodetree.Dirent{Inode: uint64(d.Inode), Name: d.Name, Deleted: d.Deleted})
	})
}

func (v volume) Entry(ino *Inode, d inodetree.Dirent, p string) filesystem.Entry {
	return v.fsys.entry(ino, d.Name, p, d.Deleted)
}

func (v volume) Open(ino *Inode) (inodetree.File, error) { return v.fsys.open(ino) }
