//go:build js && wasm

package idbcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall/js"
	"testing"
)

// openFresh opens an empty cache, or skips where the runtime has no
// IndexedDB: these tests run in Chromium through build/wasm-browser-exec.mjs.
func openFresh(t *testing.T, limit int64) *Cache {
	t.Helper()
	if !js.Global().Get("indexedDB").Truthy() {
		t.Skip("no IndexedDB in this runtime; `make test` runs these tests in Chromium via build/wasm-browser-exec.mjs")
	}
	c, err := Open(context.Background(), fmt.Sprintf("test-%s", t.Name()), limit)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUnavailableWithoutIndexedDB(t *testing.T) {
	if js.Global().Get("indexedDB").Truthy() {
		t.Skip("this runtime has IndexedDB; the fallback is tested under Node")
	}
	if _, err := Open(context.Background(), "x", 1<<20); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open without IndexedDB = %v, want ErrUnavailable", err)
	}
}

func TestPutGet(t *testing.T) {
	ctx := context.Background()
	c := openFresh(t, 1<<20)
	want := bytes.Repeat([]byte("summary"), 1000)
	if err := c.Put(ctx, "k", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get(ctx, "k")
	if err != nil || !ok || !bytes.Equal(got, want) {
		t.Fatalf("Get = %d bytes, %v, %v; want the %d stored", len(got), ok, err, len(want))
	}
	if _, ok, err := c.Get(ctx, "missing"); ok || err != nil {
		t.Fatalf("Get(missing) = %v, %v", ok, err)
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	c := openFresh(t, 3000)
	blob := make([]byte, 1000)
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Put(ctx, k, blob); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := c.Get(ctx, "a"); !ok { // a becomes the most recently used
		t.Fatal("a missing before the cap was reached")
	}
	if err := c.Put(ctx, "d", blob); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok, err := c.Get(ctx, k); ok != want || err != nil {
			t.Errorf("after eviction Get(%s) present=%v (err %v), want %v", k, ok, err, want)
		}
	}
}

func TestTooLargeIsNotStored(t *testing.T) {
	ctx := context.Background()
	c := openFresh(t, 100)
	if err := c.Put(ctx, "big", make([]byte, 101)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, "big"); ok {
		t.Fatal("an entry larger than the cap was kept")
	}
}

func TestClear(t *testing.T) {
	ctx := context.Background()
	c := openFresh(t, 1<<20)
	c.Put(ctx, "x", []byte{1})
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, "x"); ok {
		t.Fatal("entry survived Clear")
	}
}
