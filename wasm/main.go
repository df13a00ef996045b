//go:build js && wasm

// Command wasm is the VHDX engine for the browser viewer. Built with
// GOOS=js GOARCH=wasm, it runs in a Web Worker and defines the global
// vhdxEngine object described in README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/idbcache"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

const (
	// cacheVersion is part of every cache key: bump it when a cached
	// format changes.
	cacheVersion = "v2"
	cacheLimit   = 64 << 20
	maxRead      = 16 << 20
	// maxCachedBuckets bounds the layer histograms worth caching.
	maxCachedBuckets = 65536
	// maxCachedStates bounds the run-length encoded block states worth
	// caching (a sparse disk needs a few bytes, a fragmented one more).
	maxCachedStates = 8 << 20
)

// engine holds the open image. Methods lock mu; only one image (with its
// chain) is open.
type engine struct {
	mu      sync.Mutex
	files   []*droppedFile // every file given, by name
	top     *droppedFile   // the file of the image shown
	img     *vhdx.Image    // the image shown: the top of the chain
	blocks  *blockSummary  // its block states; nil without a readable BAT
	disk    *vhdx.Disk     // its virtual disk, through the chain; nil when unreadable
	diskErr error
	key     string

	// An image in another format (qcow2, raw): vimg is set, img is nil.
	vimg     *vdisk.Image
	vd       *vdisk.Disk // its virtual disk; nil when unreadable (diskErr)
	snapshot string      // the internal snapshot whose disk vd reads, "" for the current one
	maps     *clusterMaps
	summary  otherSummary

	cacheOnce sync.Once
	cache     *idbcache.Cache
}

func main() {
	e := &engine{}
	methods := map[string]func(args []js.Value) (any, error){
		"open":           e.open,
		"scan":           e.scan,
		"openFiles":      e.openFiles,
		"layerHistogram": e.layerHistogram,
		"layerBytes":     e.layerBytes,
		"exportVHDX":     e.exportVHDX,
		"exportQCOW2":    e.exportQCOW2,
		"l2":             e.l2,
		"refcountBlock":  e.refcountBlock,
		"snapshot":       e.selectSnapshot,
		"check":          e.check,
		"fields":         e.fields,
		"blockHistogram": e.blockHistogram,
		"block":          e.block,
		"readFile":       e.readFile,
		"readDisk":       e.readDisk,
		"sectorOwner":    e.sectorOwner,
		"partitions":     e.partitions,
		"report":         e.report,
		"cacheClear":     e.cacheClear,
	}
	obj := js.Global().Get("Object").New()
	for name, fn := range methods {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			return jsutil.Promise(func() (any, error) { return fn(args) })
		}))
	}
	js.Global().Set("vhdxEngine", obj)
	go e.idb() // open the cache now rather than on the first drop
	if ready := js.Global().Get("vhdxReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// idb returns the cache, or nil when IndexedDB is unavailable.
func (e *engine) idb() *idbcache.Cache {
	e.cacheOnce.Do(func() {
		c, err := idbcache.Open(context.Background(), "vhdx-inspector", cacheLimit)
		if err == nil {
			e.cache = c
		}
	})
	return e.cache
}

// cached returns the bytes stored under key plus suffix, or computes,
// stores and returns them. The bool reports a cache hit. An empty key
// (an image that cannot be told apart) is never cached.
func (e *engine) cached(key, suffix string, compute func() ([]byte, error)) ([]byte, bool, error) {
	ctx := context.Background()
	c := e.idb()
	if c != nil && key != "" {
		if b, ok, err := c.Get(ctx, key+"/"+suffix); err == nil && ok {
			return b, true, nil
		}
	}
	b, err := compute()
	if err != nil {
		return nil, false, err
	}
	e.store(key, suffix, b)
	return b, false, nil
}

// lookup returns the bytes stored under key plus suffix.
func (e *engine) lookup(key, suffix string) ([]byte, bool) {
	c := e.idb()
	if c == nil || key == "" {
		return nil, false
	}
	b, ok, err := c.Get(context.Background(), key+"/"+suffix)
	return b, ok && err == nil
}

// store keeps b under key plus suffix; a failed put only costs speed.
func (e *engine) store(key, suffix string, b []byte) {
	if c := e.idb(); c != nil && key != "" {
		_ = c.Put(context.Background(), key+"/"+suffix, b)
	}
}

// current returns the open image or an error when none is open.
func (e *engine) current() (*vhdx.Image, error) {
	if e.img == nil {
		return nil, errors.New("no image is open")
	}
	return e.img, nil
}

type checkResult struct {
	report.Findings
	Cached bool `json:"cached"`
}

// check validates the image shown. args[0] may hold {signal, onProgress}:
// progress counts the bytes of the file read against the size of its
// tables, and an aborted signal ends the check with "cancelled".
func (e *engine) check(args []js.Value) (any, error) {
	e.mu.Lock()
	img, top, key := e.img, e.top, e.key
	vimg, vd := e.vimg, e.vd
	e.mu.Unlock()
	if vimg != nil {
		return checkOther(args, top, vimg, vd)
	}
	if img == nil {
		return nil, errors.New("no image is open")
	}
	total := int64(1 << 20)
	if img.BAT != nil {
		total += img.BAT.Length
	}
	t := newTask(jsutil.Arg(args, 0), total)
	b, hit, err := e.cached(key, "findings", func() ([]byte, error) {
		if err := t.cancelled(); err != nil {
			return nil, err
		}
		top.reader.watch(t)
		findings := vdisk.FromVHDX(img, "").Check()
		top.reader.watch(nil)
		if err := t.cancelled(); err != nil {
			return nil, err
		}
		t.report()
		return json.Marshal(report.Tally(findings))
	})
	if err != nil {
		return nil, err
	}
	var res checkResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	res.Cached = hit
	return jsonString(res)
}

func (e *engine) fields([]js.Value) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vimg != nil {
		f := e.vimg.Fields()
		if f == nil { // a raw image has no structures
			f = []vdisk.Field{}
		}
		return jsonString(f)
	}
	img, err := e.current()
	if err != nil {
		return nil, err
	}
	return jsonString(img.Fields())
}

func (e *engine) report([]js.Value) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vimg != nil {
		return e.reportOther()
	}
	img, err := e.current()
	if err != nil {
		return nil, err
	}
	rep, err := report.Build(img)
	if err != nil {
		return nil, err
	}
	return jsonString(rep)
}

func (e *engine) cacheClear([]js.Value) (any, error) {
	if c := e.idb(); c != nil {
		if err := c.Clear(context.Background()); err != nil {
			return nil, err
		}
	}
	return true, nil
}

func jsonString(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
