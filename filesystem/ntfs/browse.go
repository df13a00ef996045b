package ntfs

import (
	"path"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// child is a name found in a directory.
type child struct {
	record uint64
	name   string
}

// children lists the names in directory record dir's index, DOS short
// names left out (the long name of the same file is listed).
func (fsys *FS) children(dir *parser.MFT_ENTRY) ([]child, error) {
	return filesystem.Guard(library, func() ([]child, error) {
		var out []child
		seen := map[child]bool{}
		for _, rec := range dir.Dir(fsys.ctx) {
			fn := rec.File()
			if fn.NameType().Value == 2 {
				continue
			}
			c := child{rec.MftReference(), fn.Name()}
			if seen[c] {
				continue
			}
			seen[c] = true
			if out = append(out, c); len(out) > filesystem.MaxDirEntries {
				return nil, &filesystem.FormatError{Structure: "directory index", Err: filesystem.ErrWorkLimit, Detail: "too many entries"}
			}
		}
		return out, nil
	})
}

// ReadDir lists directory p: the names in its index, and the MFT records
// not in use whose $FILE_NAME names it as parent (Deleted set).
func (fsys *FS) ReadDir(p string) ([]filesystem.Entry, error) {
	out, err := fsys.readDir(p)
	if err != nil {
		return nil, &filesystem.PathError{Op: "readdir", Path: p, Err: err}
	}
	return out, nil
}

func (fsys *FS) readDir(p string) ([]filesystem.Entry, error) {
	if fsys.orphans == nil {
		if err := fsys.scanMFT(); err != nil {
			return nil, err
		}
	}
	id, clean, err := fsys.resolve(p)
	if err != nil {
		return nil, err
	}
	dir, err := fsys.mft(id)
	if err != nil {
		return nil, err
	}
	kids, err := fsys.children(dir)
	if err != nil {
		return nil, err
	}
	var out []filesystem.Entry
	listed := map[uint64]bool{}
	for _, c := range kids {
		if c.record == id {
			continue // the root lists itself as "."
		}
		e, err := fsys.entry(c.record, c.name, filesystem.JoinPath(clean, c.name))
		if err != nil {
			return nil, err
		}
		if e.Type == filesystem.TypeDir && !e.Deleted {
			fsys.remember(e.Path, c.record)
		}
		listed[c.record] = true
		out = append(out, e)
	}
	for _, rec := range fsys.orphans[id] {
		if listed[rec.Number] {
			continue
		}
		fn, _ := rec.name()
		if e, err := fsys.entry(rec.Number, fn.Name, filesystem.JoinPath(clean, fn.Name)); err == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// entry describes record id named name at path p: from the MFT scan, or
// through the library for a record with an attribute list.
func (fsys *FS) entry(id uint64, name, p string) (filesystem.Entry, error) {
	if rec := fsys.record(id); rec != nil {
		return describeRecord(rec, name, p), nil
	}
	m, err := fsys.mft(id)
	if err != nil {
		return filesystem.Entry{}, err
	}
	return fsys.describe(id, m, name, p)
}

// Stat describes the entry at p.
func (fsys *FS) Stat(p string) (filesystem.Entry, error) {
	e, _, _, err := fsys.stat(p)
	if err != nil {
		return filesystem.Entry{}, &filesystem.PathError{Op: "stat", Path: p, Err: err}
	}
	return e, nil
}

// stat finds p ("path:stream" allowed) and returns its entry, record and
// stream name.
func (fsys *FS) stat(p string) (filesystem.Entry, *parser.MFT_ENTRY, string, error) {
	p, stream := splitStream(p)
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return filesystem.Entry{}, nil, "", err
	}
	if len(names) == 0 {
		m, err := fsys.mft(rootRecord)
		if err != nil {
			return filesystem.Entry{}, nil, "", err
		}
		e, err := fsys.describe(rootRecord, m, "", "/")
		return e, m, stream, err
	}
	parent := "/" + path.Join(names[:len(names)-1]...)
	entries, err := fsys.readDir(parent)
	if err != nil {
		return filesystem.Entry{}, nil, "", err
	}
	name := names[len(names)-1]
	best := -1
	for i, e := range entries {
		switch {
		case e.Name == name && (best < 0 || entries[best].Deleted || entries[best].Name != name):
			best = i
		case best < 0 && strings.EqualFold(e.Name, name):
			best = i
		}
	}
	if best < 0 {
		return filesystem.Entry{}, nil, "", filesystem.ErrNotFound
	}
	e := entries[best]
	id, err := recordOf(e.ID)
	if err != nil {
		return filesystem.Entry{}, nil, "", err
	}
	m, err := fsys.mft(id)
	return e, m, stream, err
}

// resolve returns the record of directory p and p cleaned.
func (fsys *FS) resolve(p string) (uint64, string, error) {
	names, err := filesystem.SplitPath(p)
	if err != nil {
		return 0, "", err
	}
	clean := "/" + path.Join(names...)
	if id, ok := fsys.dirs[clean]; ok {
		return id, clean, nil
	}
	e, _, _, err := fsys.stat(clean)
	if err != nil {
		return 0, "", err
	}
	if e.Type != filesystem.TypeDir {
		return 0, "", filesystem.ErrNotDir
	}
	id, err := recordOf(e.ID)
	if err != nil {
		return 0, "", err
	}
	fsys.remember(clean, id)
	return id, clean, nil
}

// remember caches the record of directory p, within a bound.
func (fsys *FS) remember(p string, id uint64) {
	if len(fsys.dirs) >= 1<<20 {
		fsys.dirs = map[string]uint64{"/": rootRecord}
	}
	fsys.dirs[p] = id
}
