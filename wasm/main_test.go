//go:build js && wasm

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall/js"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// openBuilt builds an image, exposes it as a Node Blob and opens it in a
// fresh engine.
func openBuilt(t *testing.T, im *vhdxbuild.Image) (*engine, map[string]any) {
	t.Helper()
	fs := js.Global().Get("fs")
	if !fs.Truthy() || fs.Get("openAsBlob").Type() != js.TypeFunction {
		t.Skip("needs Node's fs.openAsBlob (run with go_js_wasm_exec on Node 20+)")
	}
	path := filepath.Join(t.TempDir(), "test.vhdx")
	if err := os.WriteFile(path, im.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	blob, err := jsutil.Await(fs.Call("openAsBlob", path))
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{}
	out, err := e.open([]js.Value{blob})
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out.(string)), &res); err != nil {
		t.Fatal(err)
	}
	return e, res
}

func jsBytes(v any) []byte {
	a := v.(js.Value)
	b := make([]byte, a.Get("length").Int())
	js.CopyBytesToGo(b, a)
	return b
}

func TestOpenSummaryAndReads(t *testing.T) {
	im := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 5 << 20, BlockSize: 1 << 20})
	pattern := bytes.Repeat([]byte{0xab}, 1<<20)
	im.SetBlock(2, vhdxbuild.PayloadFullyPresent, pattern)
	im.SetBlock(3, vhdxbuild.PayloadZero, nil)
	e, res := openBuilt(t, im)

	if res["cached"] != false || res["error"] != nil {
		t.Fatalf("open result: cached=%v error=%v; want false, none (no IndexedDB under Node)", res["cached"], res["error"])
	}
	sum := res["summary"].(map[string]any)
	if sum["virtual_size"].(float64) != 5<<20 || sum["block_size"].(float64) != 1<<20 {
		t.Fatalf("summary sizes = %v, %v", sum["virtual_size"], sum["block_size"])
	}
	if sum["block_states"] != nil || sum["disk_type"] != "dynamic" {
		t.Fatalf("open must not read the BAT: block_states %v, disk_type %v", sum["block_states"], sum["disk_type"])
	}
	if h, err := e.blockHistogram([]js.Value{js.ValueOf(0), js.ValueOf(5), js.ValueOf(1)}); err != nil || h.(js.Value).Index(0).Int()+h.(js.Value).Index(6).Int() != 0 {
		t.Fatalf("before the scan no block is known: %v", err)
	}
	scanned, err := e.scan(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(scanned.(string)), &sum); err != nil {
		t.Fatal(err)
	}
	if sum["allocated_size"].(float64) != 1<<20 {
		t.Fatalf("allocated_size after the scan = %v", sum["allocated_size"])
	}
	states := sum["block_states"].(map[string]any)
	if states["fully_present"].(float64) != 1 || states["zero"].(float64) != 1 || states["not_present"].(float64) != 3 {
		t.Fatalf("block_states = %v", states)
	}
	st := res["structures"].(map[string]any)
	if st["identifier"].(map[string]any)["signature"] != "vhdxfile" {
		t.Fatalf("structures.identifier = %v", st["identifier"])
	}

	v, err := e.readDisk([]js.Value{js.ValueOf(2<<20 - 2), js.ValueOf(4)})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsBytes(v); !bytes.Equal(got, []byte{0, 0, 0xab, 0xab}) {
		t.Fatalf("readDisk across blocks 1|2 = % x", got)
	}
	v, err = e.readDisk([]js.Value{js.ValueOf(5<<20 - 2), js.ValueOf(100)})
	if err != nil || len(jsBytes(v)) != 2 {
		t.Fatalf("readDisk at the end: %v, %v; want 2 bytes", v, err)
	}
	v, err = e.readFile([]js.Value{js.ValueOf(0), js.ValueOf(8)})
	if err != nil || string(jsBytes(v)) != "vhdxfile" {
		t.Fatalf("readFile(0, 8) = %q, %v", jsBytes(v), err)
	}
	if _, err := e.readFile([]js.Value{js.ValueOf(0), js.ValueOf(maxRead + 1)}); err == nil {
		t.Fatal("readFile accepted a read above the limit")
	}

	h, err := e.blockHistogram([]js.Value{js.ValueOf(0), js.ValueOf(5), js.ValueOf(5)})
	if err != nil {
		t.Fatal(err)
	}
	counts := h.(js.Value)
	if counts.Get("length").Int() != 40 || counts.Index(2*8+6).Int() != 1 || counts.Index(3*8+2).Int() != 1 || counts.Index(0).Int() != 1 {
		t.Fatalf("histogram per block wrong: block2 fully=%d block3 zero=%d block0 absent=%d", counts.Index(22).Int(), counts.Index(26).Int(), counts.Index(0).Int())
	}
	h, err = e.blockHistogram([]js.Value{js.ValueOf(0), js.ValueOf(5), js.ValueOf(1)})
	if err != nil || h.(js.Value).Index(0).Int() != 3 || h.(js.Value).Index(6).Int() != 1 {
		t.Fatalf("one-bucket histogram wrong: %v", err)
	}
	if _, err := e.blockHistogram([]js.Value{js.ValueOf(4), js.ValueOf(2), js.ValueOf(1)}); err == nil {
		t.Fatal("histogram accepted a range past the last block")
	}

	var blk map[string]any
	b, err := e.block([]js.Value{js.ValueOf(2)})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(b.(string)), &blk)
	if blk["state"] != "fully_present" || blk["virtual_offset"].(float64) != 2<<20 || blk["file_offset"].(float64) < 1<<20 {
		t.Fatalf("block(2) = %v", blk)
	}
	var own map[string]any
	o, err := e.sectorOwner([]js.Value{js.ValueOf(2<<20 + 512)})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(o.(string)), &own)
	if own["file_offset"].(float64) != blk["file_offset"].(float64)+512 {
		t.Fatalf("sectorOwner = %v, block = %v", own, blk)
	}

	ctl := js.Global().Get("AbortController").New()
	ctl.Call("abort")
	opts := js.Global().Get("Object").New()
	opts.Set("signal", ctl.Get("signal"))
	if _, err := e.check([]js.Value{opts}); err == nil || err.Error() != "cancelled" {
		t.Fatalf("check with an aborted signal: %v, want cancelled", err)
	}
	c, err := e.check(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.(string), `"errors":0`) {
		t.Fatalf("check of a clean image: %s", c)
	}
	f, err := e.fields(nil)
	if err != nil || !strings.Contains(f.(string), `"field":"sequence number"`) {
		t.Fatalf("fields: %v", err)
	}
	r, err := e.report(nil)
	if err != nil || !strings.Contains(r.(string), `"findings"`) || !strings.Contains(r.(string), `"summary"`) {
		t.Fatalf("report: %v", err)
	}
}

func TestDamagedImageKeepsStructures(t *testing.T) {
	im := vhdxbuild.New(vhdxbuild.Options{})
	im.Headers[0].BadChecksum = true
	im.Headers[1].BadChecksum = true
	e, res := openBuilt(t, im)
	if msg, _ := res["error"].(string); !strings.Contains(msg, "both headers are corrupt") {
		t.Fatalf("error = %v, want both headers corrupt", res["error"])
	}
	st := res["structures"].(map[string]any)
	if hs := st["headers"].([]any); hs[0].(map[string]any)["valid"] != false {
		t.Fatalf("headers = %v", hs)
	}
	if _, err := e.readDisk([]js.Value{js.ValueOf(0), js.ValueOf(512)}); err == nil || !strings.Contains(err.Error(), "both headers are corrupt") {
		t.Fatalf("readDisk on an unreadable image: %v", err)
	}
	v, err := e.readFile([]js.Value{js.ValueOf(0), js.ValueOf(8)})
	if err != nil || string(jsBytes(v)) != "vhdxfile" {
		t.Fatalf("the file hex view must stay usable: %q, %v", jsBytes(v), err)
	}
}

func TestNotAnImageRejects(t *testing.T) {
	fs := js.Global().Get("fs")
	if !fs.Truthy() || fs.Get("openAsBlob").Type() != js.TypeFunction {
		t.Skip("needs Node's fs.openAsBlob")
	}
	path := filepath.Join(t.TempDir(), "zeros")
	os.WriteFile(path, make([]byte, 2<<20), 0o644)
	blob, _ := jsutil.Await(fs.Call("openAsBlob", path))
	if _, err := (&engine{}).open([]js.Value{blob}); err == nil || !strings.Contains(err.Error(), "not a disk image format") {
		t.Fatalf("open(zeros) = %v, want not a disk image format", err)
	}
}
