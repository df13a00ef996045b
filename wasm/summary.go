//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// cachedSummary returns the complete summary of the image shown and loads
// its block states, when both are in the cache; else nil.
func (e *engine) cachedSummary() (json.RawMessage, bool) {
	if e.blocks == nil {
		return nil, false
	}
	sum, ok := e.lookup(e.key, "summary")
	if !ok {
		return nil, false
	}
	states, ok := e.lookup(e.key, "states")
	if !ok || e.blocks.decode(states) != nil {
		return nil, false
	}
	return sum, true
}

// scan reads the BAT of the image shown once, in large slices, into the
// block summary that block maps are drawn from, and resolves to the
// complete summary (block counts and allocated size added). args[0] may
// hold {onProgress(done, total)} in bytes of table read. Opening another
// image stops it.
func (e *engine) scan(args []js.Value) (any, error) {
	if e.showsOther() {
		return e.scanOther()
	}
	e.mu.Lock()
	img, sum, key := e.img, e.blocks, e.key
	e.mu.Unlock()
	if img == nil {
		return nil, errors.New("no image is open")
	}
	s := report.Describe(img)
	if sum == nil {
		return jsonString(s)
	}
	cached := sum.complete()
	t := newTask(jsutil.Arg(args, 0), img.BAT.Length)
	err := sum.scan(t, func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.blocks != sum {
			return errors.New("another image was opened")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	blocks, bitmaps, _ := sum.counts()
	onDisk := blocks
	if disk := img.OnDisk(); disk != img && disk != nil && disk.BAT != nil {
		// A replayed log changed the table: count the one in the file too.
		if onDisk, _, err = disk.BAT.Counts(); err != nil {
			return nil, err
		}
	}
	s.SetCounts(blocks, bitmaps, onDisk)
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if !cached {
		if states := sum.encode(); len(states) <= maxCachedStates {
			e.store(key, "states", states)
			e.store(key, "summary", b)
		}
	}
	return string(b), nil
}
