//go:build js && wasm

package main

import (
	"archive/zip"
	"errors"
	"path"
	"strings"
	"syscall/js"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

type zipResult struct {
	Bytes   int64    `json:"bytes"` // file data stored
	Files   int      `json:"files"`
	Dirs    int      `json:"dirs"`
	Skipped []string `json:"skipped"` // entries left out: links, devices, unreadable files
}

// saveZip(part, dir, writable, opts): writes the directory's tree (deleted
// entries left out) to writable as a ZIP archive in one pass, its members
// named relative to dir's parent and stored uncompressed (archive/zip
// follows each member with a data descriptor and writes ZIP64 records
// where sizes or offsets need them).
func (m *module) saveZip(args []js.Value) (any, error) {
	v, dir, err := m.pathCall(args)
	if err != nil {
		return nil, err
	}
	target := jsutil.Arg(args, 2)
	if target.Type() != js.TypeObject {
		return nil, errors.New("saveZip: expected a writable")
	}
	t := newTask(jsutil.Arg(args, 3))
	defer t.stop()
	bw := bufferedWriter(target)
	z := zip.NewWriter(bw)
	base := path.Dir(strings.TrimSuffix(dir, "/"))
	res := zipResult{Skipped: []string{}}
	name := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, base), "/") }
	_, err = walk(v, t, func(fs filesystem.FS) error {
		return filesystem.Walk(t.ctx, fs, dir, func(e filesystem.Entry) error {
			mod := time.Unix(0, 0)
			if e.Modified != nil {
				mod = *e.Modified
			}
			switch {
			case e.Deleted:
				if e.IsDir() {
					return filesystem.SkipDir
				}
				return nil
			case e.IsDir():
				res.Dirs++
				_, err := z.CreateHeader(&zip.FileHeader{Name: name(e.Path) + "/", Modified: mod, Method: zip.Store})
				return err
			case e.Type != filesystem.TypeFile:
				res.Skipped = append(res.Skipped, e.Path)
				return nil
			}
			f, err := fs.Open(e.Path)
			if err != nil {
				res.Skipped = append(res.Skipped, e.Path)
				return nil
			}
			w, err := z.CreateHeader(&zip.FileHeader{Name: name(e.Path), Modified: mod, Method: zip.Store})
			if err != nil {
				return err
			}
			res.Files++
			// The pieces are read on another goroutine: guard them there.
			read := func(p []byte, off int64) (int, error) {
				return filesystem.Guard(v.typ, func() (int, error) { return readAt(f, p, off) })
			}
			return copyFile(read, f.Size(), w, t, &res.Bytes, 0)
		}, func(p string, err error) error {
			res.Skipped = append(res.Skipped, p)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return jsonString(res)
}
