//go:build js && wasm

// Package idbcache keeps derived results (summaries, findings, block maps)
// in IndexedDB so that opening the same image again is instant. The cache
// has a size cap and drops the least recently used entries beyond it.
package idbcache

import (
	"context"
	"errors"
	"syscall/js"

	"github.com/hack-pad/go-indexeddb/idb"
)

const store = "results"

// ErrUnavailable means the browser offers no IndexedDB (Node, some private
// windows); callers carry on without a cache.
var ErrUnavailable = errors.New("idbcache: IndexedDB is not available")

// Cache is a size-capped key/value store of byte strings in IndexedDB.
type Cache struct {
	db    *idb.Database
	limit int64
}

// Open opens (creating if needed) the cache database name, capped at limit bytes.
func Open(ctx context.Context, name string, limit int64) (c *Cache, err error) {
	if !js.Global().Get("indexedDB").Truthy() {
		return nil, ErrUnavailable
	}
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, ErrUnavailable
		}
	}()
	req, err := idb.Global().Open(ctx, name, 1, func(db *idb.Database, oldVersion, newVersion uint) error {
		_, err := db.CreateObjectStore(store, idb.ObjectStoreOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	db, err := req.Await(ctx)
	if err != nil {
		return nil, err
	}
	return &Cache{db: db, limit: limit}, nil
}

// begin starts a read-write transaction on the store.
func (c *Cache) begin() (*idb.Transaction, *idb.ObjectStore, error) {
	txn, err := c.db.Transaction(idb.TransactionReadWrite, store)
	if err != nil {
		return nil, nil, err
	}
	s, err := txn.ObjectStore(store)
	return txn, s, err
}

// Get returns the bytes stored under key and refreshes its last use.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	txn, s, err := c.begin()
	if err != nil {
		return nil, false, err
	}
	req, err := s.Get(js.ValueOf(key))
	if err != nil {
		return nil, false, err
	}
	v, err := req.Await(ctx)
	if err != nil || !v.Truthy() {
		return nil, false, err
	}
	data := v.Get("data")
	b := make([]byte, data.Get("length").Int())
	js.CopyBytesToGo(b, data)
	v.Set("used", js.Global().Get("Date").Call("now"))
	if _, err := s.PutKey(js.ValueOf(key), v); err != nil {
		return nil, false, err
	}
	return b, true, txn.Await(ctx)
}

// Put stores b under key, then evicts the least recently used entries
// while the total exceeds the cap. An entry larger than the cap is not kept.
func (c *Cache) Put(ctx context.Context, key string, b []byte) error {
	if int64(len(b)) > c.limit {
		return nil
	}
	txn, s, err := c.begin()
	if err != nil {
		return err
	}
	data := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(data, b)
	entry := js.ValueOf(map[string]any{"data": data, "size": len(b), "used": js.Global().Get("Date").Call("now")})
	if _, err := s.PutKey(js.ValueOf(key), entry); err != nil {
		return err
	}
	if err := txn.Await(ctx); err != nil {
		return err
	}
	return c.evict(ctx)
}

// evict deletes least recently used entries until the total fits the cap.
func (c *Cache) evict(ctx context.Context) error {
	type item struct {
		key  js.Value
		size int64
		used float64
	}
	txn, s, err := c.begin()
	if err != nil {
		return err
	}
	cur, err := s.OpenCursor(idb.CursorNext)
	if err != nil {
		return err
	}
	var items []item
	var total int64
	err = cur.Iter(ctx, func(cv *idb.CursorWithValue) error {
		k, err := cv.Key()
		if err != nil {
			return err
		}
		v, err := cv.Value()
		if err != nil {
			return err
		}
		it := item{key: k, size: int64(v.Get("size").Int()), used: v.Get("used").Float()}
		items = append(items, it)
		total += it.size
		return nil
	})
	if err != nil {
		return err
	}
	for total > c.limit && len(items) > 0 {
		oldest := 0
		for i, it := range items {
			if it.used < items[oldest].used {
				oldest = i
			}
		}
		if _, err := s.Delete(items[oldest].key); err != nil {
			return err
		}
		total -= items[oldest].size
		items = append(items[:oldest], items[oldest+1:]...)
	}
	return txn.Await(ctx)
}

// Clear deletes every entry.
func (c *Cache) Clear(ctx context.Context) error {
	txn, s, err := c.begin()
	if err != nil {
		return err
	}
	if _, err := s.Clear(); err != nil {
		return err
	}
	return txn.Await(ctx)
}
