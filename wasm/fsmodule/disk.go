//go:build js && wasm

package main

import (
	"container/list"
	"fmt"
	"io"
	"sync"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

const (
	// chunkSize is the unit of the read cache.
	chunkSize = 256 << 10
	// cacheChunks bounds the cache (64 MiB).
	cacheChunks = 256
	// maxFetch bounds one request to the core engine (its readDisk limit).
	maxFetch = 16 << 20
	// directRead is the read size from which the cache is bypassed: large
	// reads are file data read once, in order.
	directRead = 1 << 20
	// readAhead is the fewest chunks a miss fetches: metadata lies close
	// together, and each request is a round trip to the core worker.
	readAhead = 4
)

// remoteDisk is the virtual disk, read through a JavaScript function
// read(offset, length) that returns a Promise of a Uint8Array (the core
// engine's readDisk). Small reads go through a cache of 256 KiB chunks,
// fetched several at a time.
type remoteDisk struct {
	read js.Value
	size int64

	mu     sync.Mutex
	chunks map[int64]*list.Element // chunk index → element holding *chunk
	lru    list.List               // most recently used first
}

type chunk struct {
	index int64
	data  []byte
}

func newRemoteDisk(read js.Value, size int64) *remoteDisk {
	return &remoteDisk{read: read, size: size, chunks: map[int64]*list.Element{}}
}

// Size returns the size of the virtual disk.
func (d *remoteDisk) Size() int64 { return d.size }

// fetch reads n bytes at off from the core engine into p.
func (d *remoteDisk) fetch(p []byte, off int64) error {
	v, err := jsutil.Await(d.read.Invoke(float64(off), len(p)))
	if err != nil {
		return err
	}
	if v.Get("length").Int() != len(p) {
		return fmt.Errorf("reading %d bytes of the disk at %d: got %d: %w", len(p), off, v.Get("length").Int(), io.ErrUnexpectedEOF)
	}
	js.CopyBytesToGo(p, v)
	return nil
}

// ReadAt implements io.ReaderAt.
func (d *remoteDisk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > d.size-off {
		p = p[:d.size-off]
	}
	var err error
	if len(p) >= directRead {
		err = d.readDirect(p, off)
	} else {
		err = d.readCached(p, off)
	}
	if err != nil {
		return 0, err
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

func (d *remoteDisk) readDirect(p []byte, off int64) error {
	for len(p) > 0 {
		n := min(len(p), maxFetch)
		if err := d.fetch(p[:n], off); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (d *remoteDisk) readCached(p []byte, off int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	first, last := off/chunkSize, (off+int64(len(p))-1)/chunkSize
	for i := first; i <= last; {
		e, ok := d.chunks[i]
		if !ok {
			// Fetch the run of missing chunks starting here in one
			// request, at least readAhead of them, up to the disk's end.
			j := i + 1
			end := min(max(last+1, i+readAhead), (d.size+chunkSize-1)/chunkSize)
			for j < end && d.chunks[j] == nil && (j-i+1)*chunkSize <= maxFetch {
				j++
			}
			if err := d.load(i, j); err != nil {
				return err
			}
			e = d.chunks[i]
		}
		d.lru.MoveToFront(e)
		c := e.Value.(*chunk)
		start := max(off, i*chunkSize)
		end := min(off+int64(len(p)), i*chunkSize+int64(len(c.data)))
		copy(p[start-off:end-off], c.data[start-i*chunkSize:])
		i++
	}
	return nil
}

// load fetches chunks [i, j) into the cache.
func (d *remoteDisk) load(i, j int64) error {
	start := i * chunkSize
	n := min(j*chunkSize, d.size) - start
	buf := make([]byte, n)
	if err := d.fetch(buf, start); err != nil {
		return err
	}
	for k := i; k < j; k++ {
		lo := (k - i) * chunkSize
		hi := min(lo+chunkSize, n)
		d.chunks[k] = d.lru.PushFront(&chunk{k, buf[lo:hi:hi]})
	}
	for d.lru.Len() > cacheChunks {
		old := d.lru.Back()
		d.lru.Remove(old)
		delete(d.chunks, old.Value.(*chunk).index)
	}
	return nil
}
