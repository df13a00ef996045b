// Package inodetree resolves paths, lists directories and opens files of a
// filesystem whose directories name inodes (ext, XFS), with a cache of the
// directories resolved so far.
package inodetree

import (
	"errors"
	"path"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// Dirent is a name in a directory.
type Dirent struct {
	Inode uint64
	Name  string
	// Deleted marks a name the filesystem no longer uses but still holds.
	Deleted bool
}

// File is a file's data with where it lies.
type File interface {
	filesystem.File
	Extents() []filesystem.Extent
}

// Volume is what a filesystem provides to the tree; I is its inode type.
type Volume[I any] interface {
	// Root returns the root directory's inode number.
	Root() uint64
	// Inode reads inode n.
	Inode(n uint64) (I, error)
	// IsDir reports whether ino is a directory.
	IsDir(ino I) bool
	// Dirents calls fn for each entry of directory ino, "." and ".." left
	// out; it fails with filesystem.ErrNotDir when ino is no directory.
	Dirents(ino I, fn func(Dirent) error) error
	// Entry describes inode ino named d at path p.
	Entry(ino I, d Dirent, p string) filesystem.Entry
	// Open opens the data of inode ino.
	Open(ino I) (File, error)
}

// Tree implements filesystem.FS over a Volume.
type Tree[I any] struct {
	v    Volume[I]
	dirs map[string]uint64 // directory path -> inode, resolved so far
}

// New returns a tree over v.
func New[I any](v Volume[I]) *Tree[I] {
	return &Tree[I]{v: v, dirs: map[string]uint64{"/": v.Root()}}
}

var errFound = errors.New("found")

// ReadDir lists directory p.
func (t *Tree[I]) ReadDir(p string) ([]filesystem.Entry, error) {
	dir, clean, err := t.resolve(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	var out []filesystem.Entry
	err = t.v.Dirents(dir, func(d Dirent) error {
		e, err := t.entry(d, clean)
		if err == nil {
			out = append(out, e)
		}
		return err
	})
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	return out, nil
}

// entry describes the entry d of directory dir. A deleted name whose
// inode cannot be read is still listed, as "other".
func (t *Tree[I]) entry(d Dirent, dir string) (filesystem.Entry, error) {
	p := filesystem.JoinPath(dir, d.Name)
	ino, err := t.v.Inode(d.Inode)
	if err != nil {
		if d.Deleted {
			return filesystem.Entry{Name: d.Name, Path: p, Type: filesystem.TypeOther, Deleted: true}, nil
		}
		return filesystem.Entry{}, err
	}
	e := t.v.Entry(ino, d, p)
	if e.Type == filesystem.TypeDir && !d.Deleted {
		t.remember(p, d.Inode)
	}
	return e, nil
}

// Stat describes the entry at p.
func (t *Tree[I]) Stat(p string) (filesystem.Entry, error) {
	e, _, err := t.stat(p)
	if err != nil {
		return filesystem.Entry{}, &filesystem.PathError{Op: "stat", Path: p, Err: err}
	}
	return e, nil
}

func (t *Tree[I]) stat(p string) (filesystem.Entry, I, error) {
	var none I
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return filesystem.Entry{}, none, err
	}
	if len(names) == 0 {
		root, err := t.v.Inode(t.v.Root())
		if err != nil {
			return filesystem.Entry{}, none, err
		}
		return t.v.Entry(root, Dirent{Inode: t.v.Root()}, "/"), root, nil
	}
	dir, clean, err := t.resolve("/" + path.Join(names[:len(names)-1]...))
	if err != nil {
		return filesystem.Entry{}, none, err
	}
	d, err := t.lookup(dir, names[len(names)-1], true)
	if err != nil {
		return filesystem.Entry{}, none, err
	}
	e, err := t.entry(d, clean)
	if err != nil {
		return filesystem.Entry{}, none, err
	}
	ino, err := t.v.Inode(d.Inode)
	return e, ino, err
}

// Open opens the data of the file at p (a deleted one too, as far as its
// inode still maps it).
func (t *Tree[I]) Open(p string) (filesystem.File, error) {
	f, err := t.open(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "open", Path: p, Err: err}
	}
	return f, nil
}

// Extents returns where the data of the file at p lies in the filesystem.
func (t *Tree[I]) Extents(p string) ([]filesystem.Extent, error) {
	f, err := t.open(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "extents", Path: p, Err: err}
	}
	return f.Extents(), nil
}

func (t *Tree[I]) open(p string) (File, error) {
	e, ino, err := t.stat(p)
	if err != nil {
		return nil, err
	}
	if e.Type == filesystem.TypeDir {
		return nil, filesystem.ErrIsDir
	}
	return t.v.Open(ino)
}

// resolve returns the inode of directory p and p cleaned, from the
// deepest directory of p already resolved.
func (t *Tree[I]) resolve(p string) (I, string, error) {
	var none I
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return none, "", err
	}
	clean := "/" + path.Join(names...)
	i, cur := len(names), clean
	n, ok := t.dirs[cur]
	for !ok {
		i--
		cur = "/" + path.Join(names[:i]...)
		n, ok = t.dirs[cur]
		if i == 0 && !ok {
			n, ok = t.v.Root(), true
		}
	}
	for _, name := range names[i:] {
		dir, err := t.v.Inode(n)
		if err != nil {
			return none, "", err
		}
		d, err := t.lookup(dir, name, false)
		if err != nil {
			return none, "", err
		}
		n, cur = d.Inode, filesystem.JoinPath(cur, name)
		t.remember(cur, n)
	}
	ino, err := t.v.Inode(n)
	if err != nil {
		return none, "", err
	}
	if !t.v.IsDir(ino) {
		return none, "", filesystem.ErrNotDir
	}
	return ino, clean, nil
}

// lookup finds name in dir: a live entry, else (when deleted is true) a
// removed one.
func (t *Tree[I]) lookup(dir I, name string, deleted bool) (Dirent, error) {
	var found, gone Dirent
	err := t.v.Dirents(dir, func(d Dirent) error {
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
func (t *Tree[I]) remember(p string, n uint64) {
	if len(t.dirs) >= 1<<20 {
		t.dirs = map[string]uint64{"/": t.v.Root()}
	}
	t.dirs[p] = n
}

// Names wraps fn, the callback of a Volume's Dirents for the directory
// whose inode is at byte offset off: it leaves out "." and "..", and fails
// with filesystem.ErrWorkLimit after filesystem.MaxDirEntries names.
func Names[D any](off int64, name func(D) string, fn func(D) error) func(D) error {
	count := 0
	return func(d D) error {
		if n := name(d); n == "." || n == ".." {
			return nil
		}
		if count++; count > filesystem.MaxDirEntries {
			return &filesystem.FormatError{Structure: "directory", Offset: off, Err: filesystem.ErrWorkLimit, Detail: "too many entries"}
		}
		return fn(d)
	}
}
