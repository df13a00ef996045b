//go:build js && wasm

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall/js"
	"testing"

	"github.com/google/uuid"
	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// namedFile exposes b as a File called name (a Node Blob wrapped in File).
func namedFile(t *testing.T, name string, b []byte) js.Value {
	t.Helper()
	fs := js.Global().Get("fs")
	if !fs.Truthy() || fs.Get("openAsBlob").Type() != js.TypeFunction || !js.Global().Get("File").Truthy() {
		t.Skip("needs Node 20's fs.openAsBlob and File")
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	blob, err := jsutil.Await(fs.Call("openAsBlob", p))
	if err != nil {
		t.Fatal(err)
	}
	return js.Global().Get("File").New(js.ValueOf([]any{blob}), name)
}

// twoLevels builds base.vhdx (block 1 = 0xa1) and child.avhdx (block 2 =
// 0xc2, and sectors 8-15 of block 1 = 0xc1).
func twoLevels(t *testing.T) (child, base js.Value) {
	const mib = 1 << 20
	data := uuid.MustParse("0b0b0b0b-0000-4000-8000-000000000002")
	b := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib})
	b.Headers[0].DataWriteGUID, b.Headers[1].DataWriteGUID = data, data
	b.SetBlock(1, vhdxbuild.PayloadFullyPresent, bytes.Repeat([]byte{0xa1}, mib))
	c := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib, HasParent: true, ParentLocator: []vhdxbuild.KeyValue{
		{Key: "parent_linkage", Value: vhdxbuild.FormatParentLinkage(data)},
		{Key: "relative_path", Value: `.\BASE.vhdx`},
	}})
	c.SetBlock(2, vhdxbuild.PayloadFullyPresent, bytes.Repeat([]byte{0xc2}, mib))
	c.SetBlock(1, vhdxbuild.PayloadPartiallyPresent, append(make([]byte, 8*512), bytes.Repeat([]byte{0xc1}, 8*512)...))
	c.MarkSectorsPresent(2048+8, 8)
	return namedFile(t, "child.avhdx", c.Bytes()), namedFile(t, "base.vhdx", b.Bytes())
}

func openFilesResult(t *testing.T, e *engine, add bool, files ...js.Value) map[string]any {
	t.Helper()
	arr := make([]any, len(files))
	for i, f := range files {
		arr[i] = f
	}
	out, err := e.openFiles([]js.Value{js.ValueOf(arr), js.ValueOf(add)})
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out.(string)), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestOpenFilesResolvesChainInAnyOrder(t *testing.T) {
	child, base := twoLevels(t)
	e := &engine{}
	res := openFilesResult(t, e, false, base, child) // the parent first: the child is still the top
	if res["name"] != "child.avhdx" || res["chain_error"] != nil {
		t.Fatalf("top = %v, chain_error = %v", res["name"], res["chain_error"])
	}
	if chain := res["chain"].([]any); len(chain) != 2 || chain[1].(map[string]any)["name"] != "base.vhdx" {
		t.Fatalf("chain = %v", chain)
	}
	v, err := e.readDisk([]js.Value{js.ValueOf(1<<20 + 8*512 - 2), js.ValueOf(4)})
	if err != nil || !bytes.Equal(jsBytes(v), []byte{0xa1, 0xa1, 0xc1, 0xc1}) {
		t.Fatalf("readDisk across layers = % x, %v", jsBytes(v), err)
	}
	h, err := e.layerHistogram([]js.Value{js.ValueOf(0), js.ValueOf(4), js.ValueOf(4)})
	if err != nil {
		t.Fatal(err)
	}
	// 4 slots per block (layer 0, layer 1, none, mixed): block 0 none, 1 mixed (8 sectors of
	// the child, the rest of the base), 2 layer 0, 3 none.
	got := []int{}
	for i := 0; i < 16; i++ {
		got = append(got, h.(js.Value).Index(i).Int())
	}
	if want := []int{0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("layerHistogram = %v, want %v", got, want)
	}
	lb, err := e.layerBytes([]js.Value{js.ValueOf(1), js.ValueOf(1)})
	if err != nil {
		t.Fatal(err)
	}
	if a := lb.(js.Value); a.Index(0).Int() != 8*512 || a.Index(1).Int() != 1<<20-8*512 || a.Index(2).Int() != 0 {
		t.Fatalf("layerBytes of block 1 = %v %v %v", a.Index(0).Int(), a.Index(1).Int(), a.Index(2).Int())
	}
	var o map[string]any
	s, err := e.sectorOwner([]js.Value{js.ValueOf(1<<20 + 100)})
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(s.(string)), &o)
	if o["layer"].(float64) != 1 || o["layer_name"] != "base.vhdx" {
		t.Fatalf("sectorOwner in the parent's sectors = %v", o)
	}
}

func TestMissingParentIsNamedThenAdded(t *testing.T) {
	child, base := twoLevels(t)
	e := &engine{}
	res := openFilesResult(t, e, false, child)
	if res["missing_parent"] != "BASE.vhdx" || !strings.Contains(res["chain_error"].(string), "BASE.vhdx") {
		t.Fatalf("missing_parent = %v, chain_error = %v", res["missing_parent"], res["chain_error"])
	}
	if found := res["chain"].([]any); len(found) != 1 || found[0].(map[string]any)["name"] != "child.avhdx" {
		t.Fatalf("partial chain = %v, want just the child", found)
	}
	if _, err := e.readDisk([]js.Value{js.ValueOf(0), js.ValueOf(512)}); err == nil {
		t.Fatal("readDisk worked without the parent")
	}
	res = openFilesResult(t, e, true, base) // dropped later: joins the set
	if res["chain_error"] != nil || len(res["chain"].([]any)) != 2 {
		t.Fatalf("after adding the parent: chain = %v, error = %v", res["chain"], res["chain_error"])
	}
}

func TestExportVHDXMergesChain(t *testing.T) {
	child, base := twoLevels(t)
	e := &engine{}
	openFilesResult(t, e, false, child, base)
	sink := js.Global().Get("Function").New(`
		const chunks = [];
		return { chunks, write(c) { chunks.push(c.slice()); return Promise.resolve(); } };`).Invoke()
	var reports int
	progress := js.FuncOf(func(_ js.Value, args []js.Value) any { reports++; return nil })
	defer progress.Release()
	n, err := e.exportVHDX([]js.Value{sink, progress.Value})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	chunks := sink.Get("chunks")
	for i := 0; i < chunks.Length(); i++ {
		b := make([]byte, chunks.Index(i).Length())
		js.CopyBytesToGo(b, chunks.Index(i))
		out = append(out, b...)
	}
	if int(n.(float64)) != len(out) || reports == 0 {
		t.Fatalf("exportVHDX returned %v, sink got %d bytes, %d progress reports", n, len(out), reports)
	}
	img, err := vhdx.Open(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, d.Size())
	want := make([]byte, d.Size())
	d.ReadAt(got, 0)
	e.disk.ReadAt(want, 0)
	if !bytes.Equal(got, want) || img.Metadata.HasParent {
		t.Fatalf("exported image differs from the chain (has parent: %v)", img.Metadata.HasParent)
	}
}
