//go:build js && wasm

// Package jsblob reads a JavaScript Blob (such as a dropped File) through
// io.ReaderAt. In a Web Worker it reads synchronously with FileReaderSync;
// elsewhere it awaits Blob.arrayBuffer. Small reads are served from a cache
// of aligned chunks, because each read of the Blob has a fixed cost of
// about half a millisecond; large reads go to the Blob in one call.
package jsblob

import (
	"fmt"
	"io"
	"sync"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

const (
	// ChunkSize is the alignment and size of cached chunks.
	ChunkSize = 1 << 20
	// CacheChunks is how many chunks are kept (the least recently used
	// chunk is dropped first).
	CacheChunks = 32
)

// Reader is an io.ReaderAt over a Blob. It is safe for concurrent use.
type Reader struct {
	blob     js.Value
	size     int64
	syncRead js.Value // a FileReaderSync, or undefined

	mu     sync.Mutex
	chunks map[int64][]byte
	lru    []int64 // chunk indexes, least recently used first
	calls  int     // reads issued to the Blob, for tests and tuning
}

// New returns a Reader over blob.
func New(blob js.Value) *Reader {
	r := &Reader{blob: blob, size: int64(blob.Get("size").Float()), chunks: map[int64][]byte{}}
	if frs := js.Global().Get("FileReaderSync"); frs.Truthy() {
		r.syncRead = frs.New()
	}
	return r
}

// Size returns the Blob's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// Calls returns how many reads were issued to the Blob.
func (r *Reader) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// ReadAt implements io.ReaderAt.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("jsblob: negative offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > r.size-off {
		p, eof = p[:r.size-off], io.EOF
	}
	if len(p) >= ChunkSize {
		if err := r.fetch(p, off); err != nil {
			return 0, err
		}
		return len(p), eof
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		c, err := r.chunk(pos / ChunkSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], c[pos%ChunkSize:])
	}
	return n, eof
}

// chunk returns chunk i, from the cache or the Blob.
func (r *Reader) chunk(i int64) ([]byte, error) {
	r.mu.Lock()
	if c, ok := r.chunks[i]; ok {
		r.touch(i)
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()
	c := make([]byte, min(ChunkSize, r.size-i*ChunkSize))
	if err := r.fetch(c, i*ChunkSize); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lru) >= CacheChunks {
		delete(r.chunks, r.lru[0])
		r.lru = r.lru[1:]
	}
	r.chunks[i] = c
	r.lru = append(r.lru, i)
	return c, nil
}

// touch marks chunk i as most recently used. r.mu must be held.
func (r *Reader) touch(i int64) {
	for k, v := range r.lru {
		if v == i {
			copy(r.lru[k:], r.lru[k+1:])
			r.lru[len(r.lru)-1] = i
			return
		}
	}
}

// fetch reads len(p) bytes at off from the Blob in one call.
func (r *Reader) fetch(p []byte, off int64) error {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	slice := r.blob.Call("slice", off, off+int64(len(p)))
	var buf js.Value
	if r.syncRead.Truthy() {
		var err error
		buf, err = r.readSync(slice)
		if err != nil {
			return err
		}
	} else {
		v, err := jsutil.Await(slice.Call("arrayBuffer"))
		if err != nil {
			return fmt.Errorf("jsblob: reading %d bytes at %d: %w", len(p), off, err)
		}
		buf = v
	}
	arr := js.Global().Get("Uint8Array").New(buf)
	if n := js.CopyBytesToGo(p, arr); n != len(p) {
		return fmt.Errorf("jsblob: read %d bytes at %d, got %d: %w", len(p), off, n, io.ErrUnexpectedEOF)
	}
	return nil
}

func (r *Reader) readSync(slice js.Value) (buf js.Value, err error) {
	defer func() {
		if e := recover(); e != nil {
			if je, ok := e.(js.Error); ok {
				err = fmt.Errorf("jsblob: %w", jsutil.Error(je.Value))
				return
			}
			err = fmt.Errorf("jsblob: %v", e)
		}
	}()
	return r.syncRead.Call("readAsArrayBuffer", slice), nil
}
