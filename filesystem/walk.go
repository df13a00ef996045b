package filesystem

import (
	"context"
	"errors"
	"path"
	"sort"
	"strings"
)

// SkipDir, returned by a WalkFunc for a directory, skips its contents.
var SkipDir = errors.New("skip this directory")

// WalkFunc is called for each entry of a walk. An error ends the walk (and
// is returned by Walk), except SkipDir.
type WalkFunc func(e Entry) error

// Walk calls fn for every entry below root, depth first, each directory's
// entries in name order. It does not descend into deleted directories, a
// directory already visited (by ID: a looping structure), or below
// MaxDepth. A directory that cannot be read is reported to onErr when it is
// not nil and skipped, and ends the walk otherwise.
func Walk(ctx context.Context, fsys FS, root string, fn WalkFunc, onErr func(path string, err error) error) error {
	if _, err := SplitPath(root); err != nil {
		return err
	}
	top, err := fsys.Stat(root)
	if err != nil {
		return err
	}
	w := walker{ctx: ctx, fsys: fsys, fn: fn, onErr: onErr, seen: map[string]bool{top.ID: true}}
	if top.Type != TypeDir {
		return fn(top)
	}
	return w.dir(top.Path, 0)
}

type walker struct {
	ctx   context.Context
	fsys  FS
	fn    WalkFunc
	onErr func(string, error) error
	seen  map[string]bool
}

func (w *walker) dir(p string, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if depth >= MaxDepth {
		return w.fail(p, &PathError{"walk", p, ErrWorkLimit})
	}
	entries, err := w.fsys.ReadDir(p)
	if err != nil {
		return w.fail(p, err)
	}
	SortByName(entries)
	for _, e := range entries {
		err := w.fn(e)
		descend := e.Type == TypeDir && !e.Deleted
		if err == SkipDir {
			descend, err = false, nil
		}
		if err != nil {
			return err
		}
		if !descend || w.seen[e.ID] {
			continue
		}
		w.seen[e.ID] = true
		if err := w.dir(e.Path, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) fail(p string, err error) error {
	if w.onErr == nil {
		return err
	}
	return w.onErr(p, err)
}

// Find walks root and calls fn for every entry whose name matches pattern
// (path.Match syntax; case-insensitive when fold is true). Unreadable
// directories are skipped. It stops when ctx is cancelled.
func Find(ctx context.Context, fsys FS, root, pattern string, fold bool, fn WalkFunc) error {
	if fold {
		pattern = strings.ToLower(pattern)
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return err
	}
	return Walk(ctx, fsys, root, func(e Entry) error {
		name := e.Name
		if fold {
			name = strings.ToLower(name)
		}
		if ok, _ := path.Match(pattern, name); ok {
			return fn(e)
		}
		return nil
	}, func(string, error) error { return nil })
}

// SortByName sorts entries by name, as Walk visits them.
func SortByName(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
}
