package fat

import (
	"path"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
)

// entries parses directory n at path dir.
func (fsys *FS) entries(n *node, dir string) ([]*node, error) {
	if fsys.vol.Kind == ExFAT {
		return fsys.exfatEntries(n, dir)
	}
	return fsys.fatEntries(n, dir)
}

// ReadDir lists directory p, deleted entries included.
func (fsys *FS) ReadDir(p string) ([]filesystem.Entry, error) {
	n, clean, err := fsys.resolve(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	kids, err := fsys.entries(n, clean)
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	out := make([]filesystem.Entry, len(kids))
	for i, k := range kids {
		out[i] = k.entry
		if k.entry.Type == filesystem.TypeDir && !k.entry.Deleted {
			fsys.remember(k)
		}
	}
	return out, nil
}

// Stat describes the entry at p.
func (fsys *FS) Stat(p string) (filesystem.Entry, error) {
	n, err := fsys.find(p)
	if err != nil {
		return filesystem.Entry{}, &filesystem.PathError{Op: "stat", Path: p, Err: err}
	}
	return n.entry, nil
}

// Open opens the data of the file at p. A deleted file is read from
// consecutive clusters from its first one, its chain having been freed.
func (fsys *FS) Open(p string) (filesystem.File, error) {
	f, err := fsys.openPath(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "open", Path: p, Err: err}
	}
	return f, nil
}

// Extents returns the clusters of the file at p as byte ranges.
func (fsys *FS) Extents(p string) ([]filesystem.Extent, error) {
	f, err := fsys.openPath(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "extents", Path: p, Err: err}
	}
	return f.Extents(), nil
}

func (fsys *FS) openPath(p string) (*filedata.File, error) {
	n, err := fsys.find(p)
	if err != nil {
		return nil, err
	}
	if n.entry.Type == filesystem.TypeDir {
		return nil, filesystem.ErrIsDir
	}
	return fsys.open(n)
}

// find returns the node at p: a live entry of that name, else one
// differing in case only, else a deleted one.
func (fsys *FS) find(p string) (*node, error) {
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return fsys.dirs["/"], nil
	}
	dir, clean, err := fsys.resolve("/" + path.Join(names[:len(names)-1]...))
	if err != nil {
		return nil, err
	}
	kids, err := fsys.entries(dir, clean)
	if err != nil {
		return nil, err
	}
	name := names[len(names)-1]
	var best *node
	rank := 0
	for _, k := range kids {
		r := 0
		switch {
		case k.entry.Name == name && !k.entry.Deleted:
			r = 4
		case strings.EqualFold(k.entry.Name, name) && !k.entry.Deleted:
			r = 3
		case k.entry.Name == name:
			r = 2
		case strings.EqualFold(k.entry.Name, name):
			r = 1
		}
		if r > rank {
			best, rank = k, r
		}
	}
	if best == nil {
		return nil, filesystem.ErrNotFound
	}
	return best, nil
}

// resolve returns the node of directory p and p cleaned.
func (fsys *FS) resolve(p string) (*node, string, error) {
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return nil, "", err
	}
	clean := "/" + path.Join(names...)
	if n, ok := fsys.dirs[clean]; ok {
		return n, clean, nil
	}
	n, err := fsys.find(clean)
	if err != nil {
		return nil, "", err
	}
	if n.entry.Type != filesystem.TypeDir {
		return nil, "", filesystem.ErrNotDir
	}
	fsys.remember(n)
	return n, clean, nil
}

// remember caches directory n by path, within a bound.
func (fsys *FS) remember(n *node) {
	if len(fsys.dirs) >= 1<<20 {
		fsys.dirs = map[string]*node{"/": fsys.dirs["/"]}
	}
	fsys.dirs[n.entry.Path] = n
}
