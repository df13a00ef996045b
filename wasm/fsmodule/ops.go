//go:build js && wasm

package main

import (
	"bufio"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall/js"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

const (
	// maxRead bounds read().
	maxRead = 16 << 20
	// copyChunk is the piece size of hashing and saving.
	copyChunk = 4 << 20
	// maxMatches bounds the results of one search.
	maxMatches = 10000
)

// guarded runs f on v's filesystem, one call at a time, a library panic
// turned into an error.
func guarded[T any](v *volume, f func(filesystem.FS) (T, error)) (T, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return filesystem.Guard(v.typ, func() (T, error) { return f(v.fsys) })
}

// pathCall parses (part, path) arguments.
func (m *module) pathCall(args []js.Value) (*volume, string, error) {
	v, err := m.volume(args)
	if err != nil {
		return nil, "", err
	}
	p, err := strArg(args, 1, "a path")
	return v, p, err
}

// readDir(part, path): JSON array of the directory's entries.
func (m *module) readDir(args []js.Value) (any, error) {
	v, p, err := m.pathCall(args)
	if err != nil {
		return nil, err
	}
	entries, err := guarded(v, func(fs filesystem.FS) ([]filesystem.Entry, error) { return fs.ReadDir(p) })
	if err != nil {
		return nil, err
	}
	filesystem.SortByName(entries)
	out := make([]entryJSON, len(entries))
	for i, e := range entries {
		out[i] = toEntry(e, false)
	}
	return jsonString(out)
}

// stat(part, path): JSON entry with its path.
func (m *module) stat(args []js.Value) (any, error) {
	v, p, err := m.pathCall(args)
	if err != nil {
		return nil, err
	}
	e, err := guarded(v, func(fs filesystem.FS) (filesystem.Entry, error) { return fs.Stat(p) })
	if err != nil {
		return nil, err
	}
	return jsonString(toEntry(e, true))
}

// extentJSON is an extent with its offset on the virtual disk.
type extentJSON struct {
	FileOffset int64 `json:"file_offset"`
	DiskOffset int64 `json:"disk_offset"`
	Length     int64 `json:"length"`
}

// extents(part, path): JSON array of where the file's bytes lie on the disk.
func (m *module) extents(args []js.Value) (any, error) {
	v, p, err := m.pathCall(args)
	if err != nil {
		return nil, err
	}
	ext, err := guarded(v, func(fs filesystem.FS) ([]filesystem.Extent, error) { return fs.Extents(p) })
	if err != nil {
		return nil, err
	}
	out := make([]extentJSON, len(ext))
	for i, x := range ext {
		out[i] = extentJSON{x.FileOffset, v.start + x.Offset, x.Length}
	}
	return jsonString(out)
}

// countingFS is a filesystem whose directory reads report a walk's
// progress (entries seen) and stop it once cancelled.
type countingFS struct {
	filesystem.FS
	t    *task
	seen int64
}

func (c *countingFS) ReadDir(p string) ([]filesystem.Entry, error) {
	if err := c.t.err(); err != nil {
		return nil, err
	}
	entries, err := c.FS.ReadDir(p)
	c.seen += int64(len(entries))
	if perr := c.t.progress(c.seen, 0); perr != nil {
		return nil, perr
	}
	return entries, err
}

// walk runs a walk of v under task t, guarded; a cancel yields errCancelled.
func walk(v *volume, t *task, run func(fs filesystem.FS) error) (int64, error) {
	c := &countingFS{t: t}
	_, err := guarded(v, func(fs filesystem.FS) (struct{}, error) {
		c.FS = fs
		return struct{}{}, run(c)
	})
	if t.err() != nil {
		return c.seen, errCancelled
	}
	return c.seen, err
}

type findResult struct {
	Matches   []entryJSON `json:"matches"`
	Visited   int64       `json:"visited"`
	Truncated bool        `json:"truncated"`
}

// errEnough ends a search with maxMatches results.
var errEnough = errors.New("enough matches")

// find(part, root, pattern, opts): entries below root whose name matches
// the glob pattern, case-insensitively.
func (m *module) find(args []js.Value) (any, error) {
	v, root, err := m.pathCall(args)
	if err != nil {
		return nil, err
	}
	pattern, err := strArg(args, 2, "a pattern")
	if err != nil {
		return nil, err
	}
	t := newTask(jsutil.Arg(args, 3))
	defer t.stop()
	res := findResult{Matches: []entryJSON{}}
	res.Visited, err = walk(v, t, func(fs filesystem.FS) error {
		return filesystem.Find(t.ctx, fs, root, pattern, true, func(e filesystem.Entry) error {
			if len(res.Matches) == maxMatches {
				res.Truncated = true
				return errEnough
			}
			res.Matches = append(res.Matches, toEntry(e, true))
			return nil
		})
	})
	if err != nil && err != errEnough {
		return nil, err
	}
	return jsonString(res)
}

// open opens the file at args[1] of partition args[0].
func (m *module) open(args []js.Value) (*volume, filesystem.File, error) {
	v, p, err := m.pathCall(args)
	if err != nil {
		return nil, nil, err
	}
	f, err := guarded(v, func(fs filesystem.FS) (filesystem.File, error) { return fs.Open(p) })
	return v, f, err
}

// read(part, path, offset, length): Uint8Array of the file's bytes,
// shorter at its end.
func (m *module) read(args []js.Value) (any, error) {
	off, n := jsutil.Arg(args, 2), jsutil.Arg(args, 3)
	if off.Type() != js.TypeNumber || n.Type() != js.TypeNumber || off.Float() < 0 || n.Float() < 0 || n.Float() > maxRead {
		return nil, fmt.Errorf("read: expected an offset and a length of at most %d", maxRead)
	}
	v, f, err := m.open(args)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, int(n.Float()))
	got, err := guardedReadAt(v, f, buf, int64(off.Float()))
	if err != nil {
		return nil, err
	}
	return jsutil.Bytes(buf[:got]), nil
}

// readAt reads f at off into p; it stops short only at the end.
func readAt(f filesystem.File, p []byte, off int64) (int, error) {
	n, err := f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// guardedReadAt is readAt on v's filesystem, guarded.
func guardedReadAt(v *volume, f filesystem.File, p []byte, off int64) (int, error) {
	return guarded(v, func(filesystem.FS) (int, error) { return readAt(f, p, off) })
}

// copyFile writes the size bytes that read gives to w in copyChunk
// pieces, adding them to done and reporting progress against total. The
// next piece is read while the one before is written: the core worker then
// reads the disk while this one hashes or sends.
func copyFile(read func([]byte, int64) (int, error), size int64, w io.Writer, t *task, done *int64, total int64) error {
	type piece struct {
		b   []byte
		err error
	}
	full := make(chan piece, 1)
	free := make(chan []byte, 2)
	for range 2 {
		free <- make([]byte, min(copyChunk, size))
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for off := int64(0); off < size; {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n, err := read(buf[:min(int64(len(buf)), size-off)], off)
			if err == nil && n == 0 {
				err = fmt.Errorf("the file ends at %d of %d bytes: %w", off, size, io.ErrUnexpectedEOF)
			}
			select {
			case full <- piece{buf[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
			off += int64(n)
		}
	}()
	for p := range full {
		if p.err != nil {
			return p.err
		}
		if _, err := w.Write(p.b); err != nil {
			return err
		}
		*done += int64(len(p.b))
		free <- p.b[:cap(p.b)]
		if err := t.progress(*done, total); err != nil {
			return err
		}
	}
	return nil
}

type hashResult struct {
	SHA256 string  `json:"sha256"`
	MD5    string  `json:"md5"`
	Size   int64   `json:"size"`
	Ms     float64 `json:"ms"`
}

// hash(part, path, opts): the SHA-256 and MD5 of a file.
func (m *module) hash(args []js.Value) (any, error) {
	v, f, err := m.open(args)
	if err != nil {
		return nil, err
	}
	t := newTask(jsutil.Arg(args, 2))
	defer t.stop()
	start := time.Now()
	s, h := sha256.New(), md5.New()
	var done int64
	if err := copyFile(func(p []byte, off int64) (int, error) { return guardedReadAt(v, f, p, off) }, f.Size(), io.MultiWriter(s, h), t, &done, f.Size()); err != nil {
		return nil, err
	}
	return jsonString(hashResult{hex.EncodeToString(s.Sum(nil)), hex.EncodeToString(h.Sum(nil)), done,
		float64(time.Since(start).Microseconds()) / 1000})
}

// saveFile(part, path, writable, opts): writes the file to writable (its
// write(Uint8Array) returns a Promise); resolves to the bytes written.
func (m *module) saveFile(args []js.Value) (any, error) {
	v, f, err := m.open(args)
	if err != nil {
		return nil, err
	}
	w := jsutil.Arg(args, 2)
	if w.Type() != js.TypeObject {
		return nil, errors.New("saveFile: expected a writable")
	}
	t := newTask(jsutil.Arg(args, 3))
	defer t.stop()
	var done int64
	if err := copyFile(func(p []byte, off int64) (int, error) { return guardedReadAt(v, f, p, off) }, f.Size(), jsutil.Writer{Target: w}, t, &done, f.Size()); err != nil {
		return nil, err
	}
	return float64(done), nil
}

// bodyfile(part, opts): Uint8Array of a body file for mactime of the whole
// filesystem, deleted entries and NTFS streams included, as fls -m writes it.
func (m *module) bodyfile(args []js.Value) (any, error) {
	v, err := m.volume(args)
	if err != nil {
		return nil, err
	}
	t := newTask(jsutil.Arg(args, 1))
	defer t.stop()
	var b strings.Builder
	line := func(e filesystem.Entry) {
		b.WriteString(filesystem.BodyLine("", e))
		b.WriteByte('\n')
	}
	_, err = walk(v, t, func(fs filesystem.FS) error {
		return filesystem.Walk(t.ctx, fs, "/", func(e filesystem.Entry) error {
			line(e)
			for _, st := range e.Streams {
				se := e
				se.Path, se.Size, se.Streams = e.Path+":"+st.Name, st.Size, nil
				line(se)
			}
			return nil
		}, func(string, error) error { return nil })
	})
	if err != nil {
		return nil, err
	}
	return jsutil.Bytes([]byte(b.String())), nil
}

// bufferedWriter is the buffer between a walk's many small writes and a
// JavaScript writable.
func bufferedWriter(w js.Value) *bufio.Writer {
	return bufio.NewWriterSize(jsutil.Writer{Target: w}, copyChunk)
}
