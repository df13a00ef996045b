package vhdxbuild

import (
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
)

const sparsePage = 16 << 10

// SparseFile is an in-memory file for tests: pages never written read as
// zeros, so images with 256 MiB blocks or a 512 MiB BAT cost only what was
// written. A page is never changed in place (a write stores a fresh copy),
// so Clone is a cheap copy-on-write snapshot. It has the methods of
// vhdx.File (ReadAt, WriteAt, Sync, Truncate) and is safe for concurrent use.
type SparseFile struct {
	mu    sync.Mutex
	size  int64
	pages map[int64]*[sparsePage]byte
	syncs int
}

// NewSparseFile returns an empty file.
func NewSparseFile() *SparseFile { return &SparseFile{pages: map[int64]*[sparsePage]byte{}} }

// Clone returns an independent copy of f.
func (f *SparseFile) Clone() *SparseFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &SparseFile{size: f.size, pages: maps.Clone(f.pages)}
}

// Size returns the file's size.
func (f *SparseFile) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

// Syncs counts the calls to Sync.
func (f *SparseFile) Syncs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs
}

// ReadAt implements io.ReaderAt.
func (f *SparseFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("SparseFile: negative offset %d", off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	var err error
	if int64(n) > f.size-off {
		n, err = int(f.size-off), io.EOF
	}
	for done := 0; done < n; {
		pos := off + int64(done)
		pg, in := pos/sparsePage, int(pos%sparsePage)
		c := min(n-done, sparsePage-in)
		if b := f.pages[pg]; b != nil {
			copy(p[done:done+c], b[in:])
		} else {
			clear(p[done : done+c])
		}
		done += c
	}
	return n, err
}

// WriteAt implements io.WriterAt; the file grows as needed.
func (f *SparseFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("SparseFile: negative offset %d", off)
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		pg, in := pos/sparsePage, int(pos%sparsePage)
		c := min(len(p)-done, sparsePage-in)
		nb := new([sparsePage]byte)
		if old := f.pages[pg]; old != nil && c < sparsePage {
			*nb = *old
		}
		copy(nb[in:], p[done:done+c])
		if *nb == ([sparsePage]byte{}) {
			delete(f.pages, pg)
		} else {
			f.pages[pg] = nb
		}
		done += c
	}
	f.size = max(f.size, off+int64(len(p)))
	return len(p), nil
}

// Truncate changes the size; bytes beyond a smaller size are dropped.
func (f *SparseFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size < f.size {
		for pg := range f.pages {
			if pg*sparsePage >= size {
				delete(f.pages, pg)
			}
		}
		if in := size % sparsePage; in != 0 {
			if old := f.pages[size/sparsePage]; old != nil {
				nb := new([sparsePage]byte)
				copy(nb[:in], old[:in])
				f.pages[size/sparsePage] = nb
			}
		}
	}
	f.size = size
	return nil
}

// Sync counts the call and does nothing else.
func (f *SparseFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	return nil
}

// Bytes returns the whole content.
func (f *SparseFile) Bytes() []byte {
	b := make([]byte, f.Size())
	f.ReadAt(b, 0)
	return b
}

// Hash returns a digest of size and content, for "never modified" checks.
func (f *SparseFile) Hash() [32]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := sha256.New()
	fmt.Fprintf(h, "%d;", f.size)
	for _, k := range slices.Sorted(maps.Keys(f.pages)) {
		fmt.Fprintf(h, "%d:", k)
		h.Write(f.pages[k][:])
	}
	return [32]byte(h.Sum(nil))
}

// SaveSparse writes the file to path, leaving holes where it has no pages.
func (f *SparseFile) SaveSparse(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := out.Truncate(f.size); err != nil {
		return err
	}
	for pg, b := range f.pages {
		n := min(int64(sparsePage), f.size-pg*sparsePage)
		if _, err := out.WriteAt(b[:n], pg*sparsePage); err != nil {
			return err
		}
	}
	return out.Close()
}
