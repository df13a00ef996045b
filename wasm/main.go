//go:build js && wasm

// Command wasm is the VHDX engine for the browser viewer. Built with
// GOOS=js GOARCH=wasm, it runs in a Web Worker and defines the global
// vhdxEngine object described in README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/idbcache"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsblob"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

const (
	// cacheVersion is part of every cache key: bump it when a cached
	// format changes.
	cacheVersion = "v1"
	cacheLimit   = 64 << 20
	maxRead      = 16 << 20
	// maxCachedBuckets bounds the block histograms worth caching.
	maxCachedBuckets = 65536
)

// engine holds the open image. Methods lock mu; only one image is open.
type engine struct {
	mu      sync.Mutex
	img     *vhdx.Image
	disk    *vhdx.Disk
	diskErr error
	key     string

	cacheOnce sync.Once
	cache     *idbcache.Cache
}

func main() {
	e := &engine{}
	methods := map[string]func(args []js.Value) (any, error){
		"open":           e.open,
		"check":          e.check,
		"fields":         e.fields,
		"blockHistogram": e.blockHistogram,
		"block":          e.block,
		"readFile":       e.readFile,
		"readDisk":       e.readDisk,
		"sectorOwner":    e.sectorOwner,
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

// cached returns the JSON stored under the current key plus suffix, or
// computes, stores and returns it. The bool reports a cache hit.
func (e *engine) cached(suffix string, compute func() ([]byte, error)) ([]byte, bool, error) {
	ctx := context.Background()
	c := e.idb()
	if c != nil && e.key != "" {
		if b, ok, err := c.Get(ctx, e.key+"/"+suffix); err == nil && ok {
			return b, true, nil
		}
	}
	b, err := compute()
	if err != nil {
		return nil, false, err
	}
	if c != nil && e.key != "" {
		_ = c.Put(ctx, e.key+"/"+suffix, b) // a failed put only costs speed
	}
	return b, false, nil
}

// cacheKey identifies a file by name, size, modification time and the
// current header's GUIDs (which change whenever the file is written).
func cacheKey(file js.Value, img *vhdx.Image) string {
	prop := func(name string) string {
		if v := file.Get(name); v.Type() == js.TypeString || v.Type() == js.TypeNumber {
			return fmt.Sprint(v)
		}
		return ""
	}
	key := fmt.Sprintf("%s|%s|%s|%s", cacheVersion, prop("name"), prop("size"), prop("lastModified"))
	if h := img.CurrentHeader(); h != nil {
		key += fmt.Sprintf("|%s|%s|%s", h.FileWriteGUID, h.DataWriteGUID, h.LogGUID)
	}
	return key
}

type openResult struct {
	Key        string            `json:"key"`
	Cached     bool              `json:"cached"`
	Summary    json.RawMessage   `json:"summary"`
	Structures report.Structures `json:"structures"`
	Error      string            `json:"error,omitempty"`
}

func (e *engine) open(args []js.Value) (any, error) {
	if len(args) < 1 || !args[0].Truthy() {
		return nil, errors.New("open: expected a File")
	}
	r := jsblob.New(args[0])
	img, openErr := vhdx.Open(r, r.Size())
	if img == nil {
		return nil, openErr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.img, e.key = img, cacheKey(args[0], img)
	e.disk, e.diskErr = img.Disk()
	res := openResult{Key: e.key, Structures: report.StructuresOf(img)}
	if openErr != nil {
		res.Error = openErr.Error()
	} else if e.diskErr != nil {
		res.Error = e.diskErr.Error()
	}
	sum, hit, err := e.cached("summary", func() ([]byte, error) {
		s, err := report.Summarize(img)
		if err != nil && s == nil {
			return nil, err
		}
		if err != nil && res.Error == "" {
			res.Error = err.Error()
		}
		return json.Marshal(s)
	})
	if err != nil {
		return nil, err
	}
	res.Summary, res.Cached = sum, hit
	return jsonString(res)
}

// current returns the open image or an error when none is open.
func (e *engine) current() (*vhdx.Image, error) {
	if e.img == nil {
		return nil, errors.New("no image is open")
	}
	return e.img, nil
}

type checkResult struct {
	Findings []vhdx.Finding `json:"findings"`
	Errors   int            `json:"errors"`
	Warnings int            `json:"warnings"`
	Cached   bool           `json:"cached"`
}

func (e *engine) check([]js.Value) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	img, err := e.current()
	if err != nil {
		return nil, err
	}
	b, hit, err := e.cached("findings", func() ([]byte, error) {
		res := checkResult{Findings: img.Check()}
		for _, f := range res.Findings {
			switch f.Severity {
			case vhdx.SeverityError:
				res.Errors++
			case vhdx.SeverityWarning:
				res.Warnings++
			}
		}
		if res.Findings == nil {
			res.Findings = []vhdx.Finding{}
		}
		return json.Marshal(res)
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
	img, err := e.current()
	if err != nil {
		return nil, err
	}
	return jsonString(img.Fields())
}

// bat returns the open image's BAT or an error saying why there is none.
func (e *engine) bat() (*vhdx.BAT, error) {
	img, err := e.current()
	if err != nil {
		return nil, err
	}
	if img.BAT == nil {
		return nil, fmt.Errorf("the block allocation table cannot be read: %v", e.diskErr)
	}
	return img.BAT, nil
}

func (e *engine) blockHistogram(args []js.Value) (any, error) {
	if len(args) < 3 {
		return nil, errors.New("blockHistogram: expected first, count, buckets")
	}
	first, count, buckets := uint64(args[0].Float()), uint64(args[1].Float()), uint64(args[2].Float())
	e.mu.Lock()
	defer e.mu.Unlock()
	bat, err := e.bat()
	if err != nil {
		return nil, err
	}
	if count == 0 || buckets == 0 || buckets > 1<<22 || first >= bat.BlockCount || count > bat.BlockCount-first {
		return nil, fmt.Errorf("blockHistogram: range %d+%d in %d buckets does not fit %d blocks", first, count, buckets, bat.BlockCount)
	}
	compute := func() ([]byte, error) { return histogram(bat, first, count, buckets) }
	var b []byte
	if first == 0 && count == bat.BlockCount && buckets <= maxCachedBuckets {
		b, _, err = e.cached(fmt.Sprintf("histogram/%d", buckets), compute)
	} else {
		b, err = compute()
	}
	if err != nil {
		return nil, err
	}
	return js.Global().Get("Uint32Array").New(jsutil.Bytes(b).Get("buffer")), nil
}

// histogram counts block states of blocks [first, first+count) in buckets
// equal runs, as little-endian uint32 values (buckets*8 of them).
func histogram(bat *vhdx.BAT, first, count, buckets uint64) ([]byte, error) {
	counts := make([]uint32, buckets*8)
	last := first + count - 1
	err := bat.WalkRange(bat.BlockIndex(first), bat.BlockIndex(last)+1, func(be vhdx.BATEntry) error {
		if !be.SectorBitmap {
			counts[(be.Block-first)*buckets/count*8+uint64(be.State)]++
		}
		return nil
	})
	out := make([]byte, 4*len(counts))
	for i, c := range counts {
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	}
	return out, err
}

type blockInfo struct {
	Block          uint64 `json:"block"`
	State          string `json:"state"`
	FileOffset     int64  `json:"file_offset"`
	VirtualOffset  int64  `json:"virtual_offset"`
	VirtualLength  int64  `json:"virtual_length"`
	BATIndex       uint64 `json:"bat_index"`
	BATEntryOffset int64  `json:"bat_entry_offset"`
	Raw            string `json:"raw"`
}

func (e *engine) block(args []js.Value) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("block: expected a block number")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	bat, err := e.bat()
	if err != nil {
		return nil, err
	}
	n := uint64(args[0].Float())
	if n >= bat.BlockCount {
		return nil, fmt.Errorf("block %d out of range (%d blocks)", n, bat.BlockCount)
	}
	be, err := bat.Block(n)
	if err != nil {
		return nil, err
	}
	bs := int64(e.img.Metadata.BlockSize)
	start := int64(n) * bs
	return jsonString(blockInfo{Block: n, State: be.State.String(), FileOffset: be.FileOffset, VirtualOffset: start,
		VirtualLength: min(bs, int64(e.img.Metadata.VirtualSize)-start), BATIndex: be.Index, BATEntryOffset: be.Offset, Raw: fmt.Sprint(be.Raw)})
}

// readArgs validates (offset, length) arguments.
func readArgs(args []js.Value) (int64, int, error) {
	if len(args) < 2 {
		return 0, 0, errors.New("expected offset and length")
	}
	off, n := args[0].Float(), args[1].Float()
	if off < 0 || n < 0 || n > maxRead || off > 1<<53 {
		return 0, 0, fmt.Errorf("read of %.0f bytes at %.0f: offset must be non-negative and length at most %d", n, off, maxRead)
	}
	return int64(off), int(n), nil
}

// readWith reads up to n bytes at off with read, stopping short at the end.
func readWith(read func([]byte, int64) (int, error), off int64, n int) (any, error) {
	buf := make([]byte, n)
	got, err := read(buf, off)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, vhdx.ErrBeyondEnd) {
		return nil, err
	}
	return jsutil.Bytes(buf[:got]), nil
}

func (e *engine) readFile(args []js.Value) (any, error) {
	off, n, err := readArgs(args)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	img, err := e.current()
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return readWith(img.ReadFile, off, n)
}

func (e *engine) readDisk(args []js.Value) (any, error) {
	off, n, err := readArgs(args)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	disk, diskErr := e.disk, e.diskErr
	e.mu.Unlock()
	if disk == nil {
		if diskErr == nil {
			diskErr = errors.New("no image is open")
		}
		return nil, diskErr
	}
	return readWith(disk.ReadAt, off, n)
}

type owner struct {
	Block      uint64 `json:"block"`
	State      string `json:"state"`
	FileOffset int64  `json:"file_offset"`
}

func (e *engine) sectorOwner(args []js.Value) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("sectorOwner: expected an offset")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	bat, err := e.bat()
	if err != nil {
		return nil, err
	}
	off := int64(args[0].Float())
	if off < 0 || uint64(off) >= e.img.Metadata.VirtualSize {
		return nil, fmt.Errorf("offset %d is outside the %d-byte disk", off, e.img.Metadata.VirtualSize)
	}
	bs := int64(e.img.Metadata.BlockSize)
	be, err := bat.Block(uint64(off / bs))
	if err != nil {
		return nil, err
	}
	o := owner{Block: be.Block, State: be.State.String(), FileOffset: -1}
	if be.State == vhdx.FullyPresent {
		o.FileOffset = be.FileOffset + off%bs
	}
	return jsonString(o)
}

func (e *engine) report([]js.Value) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
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
