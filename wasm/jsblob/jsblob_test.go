//go:build js && wasm

package jsblob

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"syscall/js"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// nodeBlob writes data to a temporary file and returns Node's disk-backed
// Blob for it (fs.openAsBlob), the same kind of object a dropped File is.
func nodeBlob(t *testing.T, data []byte) js.Value {
	t.Helper()
	fs := js.Global().Get("fs")
	if !fs.Truthy() || fs.Get("openAsBlob").Type() != js.TypeFunction {
		t.Skip("needs Node's fs.openAsBlob (run with go_js_wasm_exec on Node 20+)")
	}
	path := filepath.Join(t.TempDir(), "blob.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	blob, err := jsutil.Await(fs.Call("openAsBlob", path))
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

func TestReadAtMatchesBytes(t *testing.T) {
	data := make([]byte, 3*ChunkSize+12345)
	rand.New(rand.NewSource(1)).Read(data)
	r := New(nodeBlob(t, data))
	if r.Size() != int64(len(data)) {
		t.Fatalf("Size() = %d, want %d", r.Size(), len(data))
	}
	cases := []struct {
		off int64
		n   int
	}{
		{0, 1}, {0, 512}, {ChunkSize - 100, 200}, {ChunkSize, ChunkSize}, {12345, 2*ChunkSize + 77},
		{int64(len(data)) - 10, 10}, {int64(len(data)) - 4096, 4096}, {5, 0},
	}
	for _, c := range cases {
		got := make([]byte, c.n)
		n, err := r.ReadAt(got, c.off)
		if err != nil || n != c.n {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", c.n, c.off, n, err)
		}
		if !bytes.Equal(got, data[c.off:c.off+int64(c.n)]) {
			t.Fatalf("ReadAt(%d bytes at %d) returned wrong bytes", c.n, c.off)
		}
	}
}

func TestReadAtEnd(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 5000)
	r := New(nodeBlob(t, data))
	buf := make([]byte, 100)
	n, err := r.ReadAt(buf, 4950)
	if n != 50 || !errors.Is(err, io.EOF) {
		t.Fatalf("read across the end = %d, %v; want 50, io.EOF", n, err)
	}
	if n, err := r.ReadAt(buf, 5000); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read at the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := r.ReadAt(buf, -1); err == nil {
		t.Fatal("negative offset accepted")
	}
}

func TestSmallReadsShareChunks(t *testing.T) {
	data := make([]byte, 2*ChunkSize)
	r := New(nodeBlob(t, data))
	buf := make([]byte, 512)
	for off := int64(0); off < ChunkSize; off += 512 {
		if _, err := r.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if r.Calls() != 1 {
		t.Fatalf("2048 small reads in one chunk cost %d Blob reads, want 1", r.Calls())
	}
	big := make([]byte, ChunkSize+1)
	if _, err := r.ReadAt(big, 100); err != nil {
		t.Fatal(err)
	}
	if r.Calls() != 2 {
		t.Fatalf("a large read cost %d Blob reads in all, want one more (2)", r.Calls())
	}
}

func TestCacheIsBounded(t *testing.T) {
	data := make([]byte, (CacheChunks+4)*ChunkSize)
	r := New(nodeBlob(t, data))
	buf := make([]byte, 1)
	for i := int64(0); i < CacheChunks+4; i++ {
		if _, err := r.ReadAt(buf, i*ChunkSize); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.chunks) != CacheChunks || len(r.lru) != CacheChunks {
		t.Fatalf("cache holds %d chunks (%d in LRU), want %d", len(r.chunks), len(r.lru), CacheChunks)
	}
	if _, ok := r.chunks[0]; ok {
		t.Fatal("least recently used chunk 0 was not evicted")
	}
}
