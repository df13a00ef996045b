package ext

import (
	"errors"
	"path"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

var errFound = errors.New("found")

// ReadDir lists directory p, entries whose names remain in directory slack
// included with Deleted set.
func (fsys *FS) ReadDir(p string) ([]filesystem.Entry, error) {
	dir, clean, err := fsys.resolve(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	var out []filesystem.Entry
	err = fsys.dirents(dir, func(d Dirent) error {
		e, err := fsys.direntEntry(d, clean)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	return out, nil
}

// direntEntry describes the entry d of directory dir.
func (fsys *FS) direntEntry(d Dirent, dir string) (filesystem.Entry, error) {
	p := filesystem.JoinPath(dir, d.Name)
	ino, err := fsys.inode(d.Inode)
	if err != nil {
		if d.Deleted {
			return filesystem.Entry{Name: d.Name, Path: p, Type: filesystem.TypeOther, Deleted: true}, nil
		}
		return filesystem.Entry{}, err
	}
	e := fsys.entry(ino, d.Name, p, d.Deleted)
	if e.Type == filesystem.TypeDir && !d.Deleted {
		fsys.remember(p, d.Inode)
	}
	return e, nil
}

// Stat describes the entry at p.
func (fsys *FS) Stat(p string) (filesystem.Entry, error) {
	e, _, err := fsys.stat(p)
	if err != nil {
		return filesystem.Entry{}, &filesystem.PathError{Op: "stat", Path: p, Err: err}
	}
	return e, nil
}

func (fsys *FS) stat(p string) (filesystem.Entry, *Inode, error) {
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return filesystem.Entry{}, nil, err
	}
	if len(names) == 0 {
		root, err := fsys.inode(rootInode)
		if err != nil {
			return filesystem.Entry{}, nil, err
		}
		return fsys.entry(root, "", "/", false), root, nil
	}
	dir, clean, err := fsys.resolve("/" + path.Join(names[:len(names)-1]...))
	if err != nil {
		return filesystem.Entry{}, nil, err
	}
	d, err := fsys.lookup(dir, names[len(names)-1], true)
	if err != nil {
		return filesystem.Entry{}, nil, err
	}
	e, err := fsys.direntEntry(d, clean)
	if err != nil {
		return filesystem.Entry{}, nil, err
	}
	ino, err := fsys.inode(d.Inode)
	return e, ino, err
}

// Open opens the data of the file at p (a deleted one too, as far as its
// inode still maps it).
func (fsys *FS) Open(p string) (filesystem.File, error) {
	f, err := fsys.openPath(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "open", Path: p, Err: err}
	}
	return f, nil
}

// Extents returns where the data of the file at p lies in the filesystem.
func (fsys *FS) Extents(p string) ([]filesystem.Extent, error) {
	f, err := fsys.openPath(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "extents", Path: p, Err: err}
	}
	return f.extents(), nil
}

func (fsys *FS) openPath(p string) (*file, error) {
	e, ino, err := fsys.stat(p)
	if err != nil {
		return nil, err
	}
	if e.Type == filesystem.TypeDir {
		return nil, filesystem.ErrIsDir
	}
	return fsys.open(ino)
}

// resolve returns the inode of directory p and p cleaned.
func (fsys *FS) resolve(p string) (*Inode, string, error) {
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return nil, "", err
	}
	clean := "/" + path.Join(names...)
	n, ok := fsys.dirs[clean]
	if !ok {
		// From the deepest directory already resolved.
		i := len(names)
		cur := ""
		for ; i > 0; i-- {
			cur = "/" + path.Join(names[:i]...)
			if n, ok = fsys.dirs[cur]; ok {
				break
			}
		}
		if i == 0 {
			cur, n = "/", rootInode
		}
		for _, name := range names[i:] {
			dir, err := fsys.inode(n)
			if err != nil {
				return nil, "", err
			}
			d, err := fsys.lookup(dir, name, false)
			if err != nil {
				return nil, "", err
			}
			n, cur = d.Inode, filesystem.JoinPath(cur, name)
			fsys.remember(cur, n)
		}
	}
	ino, err := fsys.inode(n)
	if err != nil {
		return nil, "", err
	}
	if fileType(ino.Mode) != filesystem.TypeDir {
		return nil, "", filesystem.ErrNotDir
	}
	return ino, clean, nil
}

// lookup finds name in dir: a live entry, else (when deleted is true) a
// removed one.
func (fsys *FS) lookup(dir *Inode, name string, deleted bool) (Dirent, error) {
	var found, gone Dirent
	err := fsys.dirents(dir, func(d Dirent) error {
		if d.Name != name {
			return nil
		}
		if !d.Deleted {
			found = d
			return errFound
		}
		if deleted && gone.Inode == 0 {
			gone = d
		}
		return nil
	})
	switch {
	case err == errFound:
		return found, nil
	case err != nil:
		return Dirent{}, err
	case gone.Inode != 0:
		return gone, nil
	}
	return Dirent{}, filesystem.ErrNotFound
}

// remember caches the inode of directory p, within a bound.
func (fsys *FS) remember(p string, n uint32) {
	if len(fsys.dirs) >= 1<<20 {
		fsys.dirs = map[string]uint32{"/": rootInode}
	}
	fsys.dirs[p] = n
}
