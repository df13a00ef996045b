//go:build js && wasm

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall/js"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// fixture returns the gunzipped testdata/qcow2 file path.
func fixture(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("../testdata/qcow2", path+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// written applies qemu-io "write -P" patterns (offset, length, byte) to a
// zeroed disk of size bytes: the disk qemu-io made, as its README says.
func written(size int, writes ...[3]int) []byte {
	b := make([]byte, size)
	for _, w := range writes {
		for i := w[0]; i < w[0]+w[1]; i++ {
			b[i] = byte(w[2])
		}
	}
	return b
}

// plainDisk is what testdata/qcow2/README's $W wrote (write -z keeps zeros).
var plainDisk = written(1<<20, [3]int{0, 6144, 0x5a}, [3]int{300000, 5000, 0xa5}, [3]int{1040384, 8192, 0x3c})

// chainDisk is what the three levels of testdata/qcow2/chain wrote.
var chainDisk = written(1<<20,
	[3]int{0, 65536, 0xb1}, [3]int{524288, 4096, 0xb2}, // base.img
	[3]int{4096, 4096, 0xd1}, [3]int{600000, 1000, 0xd2}, // mid.qcow2
	[3]int{8192, 4096, 0xe1}, [3]int{700000, 3000, 0xe2}) // Top.qcow2 (in top.data)

func readAll(t *testing.T, e *engine, method func([]js.Value) (any, error), size int) []byte {
	t.Helper()
	v, err := method([]js.Value{js.ValueOf(0), js.ValueOf(size)})
	if err != nil {
		t.Fatal(err)
	}
	return jsBytes(v)
}

func call(t *testing.T, method func([]js.Value) (any, error), args ...any) map[string]any {
	t.Helper()
	vals := make([]js.Value, len(args))
	for i, a := range args {
		vals[i] = js.ValueOf(a)
	}
	out, err := method(vals)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out.(string)), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestQcow2OpensAndReadsEveryClusterKind(t *testing.T) {
	for _, name := range []string{"plain.qcow2", "zlib.qcow2", "zstd.qcow2", "extl2.qcow2"} {
		t.Run(name, func(t *testing.T) {
			e := &engine{}
			res := openFilesResult(t, e, false, namedFile(t, name, fixture(t, name)))
			ov := res["overview"].(map[string]any)
			if res["format"] != "qcow2" || ov["format"] != "qcow2" || res["error"] != nil {
				t.Fatalf("format = %v, error = %v", res["format"], res["error"])
			}
			if s := res["summary"].(map[string]any); s["virtual_size"].(float64) != 1<<20 {
				t.Fatalf("summary = %v", s)
			}
			if got := readAll(t, e, e.readDisk, 1<<20); !bytes.Equal(got, plainDisk) {
				t.Fatal("readDisk differs from what qemu-io wrote")
			}
			if head := readAll(t, e, e.readFile, 4); string(head) != "QFI\xfb" {
				t.Fatalf("readFile(0, 4) = %q", head)
			}
			// The kind histogram in one bucket counts every cluster once.
			h, err := e.blockHistogram([]js.Value{js.ValueOf(0), js.ValueOf(res["summary"].(map[string]any)["payload_blocks"]), js.ValueOf(1)})
			if err != nil {
				t.Fatal(err)
			}
			kinds := res["overview"].(map[string]any)["qcow2"].(map[string]any)["clusters"].(map[string]any)["kinds"].(map[string]any)
			for i, k := range qcow2.ClusterKinds {
				if got := h.(js.Value).Index(i).Int(); float64(got) != kinds[k.String()].(float64) {
					t.Errorf("%s clusters: histogram %d, counts %v", k, got, kinds[k.String()])
				}
			}
			var fields []map[string]any
			f, err := e.fields(nil)
			if err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(f.(string)), &fields)
			if len(fields) == 0 || fields[0]["offset"].(float64) != 0 || fields[0]["structure"] != "header" {
				t.Fatalf("first field = %v", fields[0])
			}
			l2 := call(t, e.l2, 0)
			if l2["offset"].(float64) == 0 || len(l2["l2"].([]any)) == 0 {
				t.Fatalf("l2(0) = %v", l2)
			}
			rc := call(t, e.refcountBlock, 0, 0, 1)
			if rc["refcounts"].([]any)[0].(float64) != 1 { // the header cluster
				t.Fatalf("refcount of cluster 0 = %v", rc["refcounts"])
			}
			chk := call(t, e.check)
			if chk["errors"].(float64) != 0 {
				t.Fatalf("findings of a qemu-made image: %v", chk["findings"])
			}
		})
	}
}

func chainFiles(t *testing.T) (top, mid, base, data js.Value) {
	return namedFile(t, "Top.qcow2", fixture(t, "chain/Top.qcow2")),
		namedFile(t, "mid.qcow2", fixture(t, "chain/mid.qcow2")),
		namedFile(t, "base.img", fixture(t, "chain/base.img")),
		namedFile(t, "TOP.DATA", fixture(t, "chain/top.data")) // names match case-insensitively
}

func TestQcow2ChainAtOnce(t *testing.T) {
	top, mid, base, data := chainFiles(t)
	e := &engine{}
	res := openFilesResult(t, e, false, base, data, mid, top)
	if res["name"] != "Top.qcow2" || res["chain_error"] != nil {
		t.Fatalf("top = %v, chain_error = %v", res["name"], res["chain_error"])
	}
	var roles []string
	for _, l := range res["chain"].([]any) {
		roles = append(roles, l.(map[string]any)["name"].(string)+"/"+l.(map[string]any)["role"].(string))
	}
	if got := strings.Join(roles, " "); !strings.Contains(got, "TOP.DATA/data file") || !strings.Contains(got, "base.img/backing file") {
		t.Fatalf("chain = %s", got)
	}
	if got := readAll(t, e, e.readDisk, 1<<20); !bytes.Equal(got, chainDisk) {
		t.Fatal("readDisk through the chain differs from what qemu-io wrote")
	}
	o := call(t, e.sectorOwner, 524288)
	if o["layer_name"] != "base.img" {
		t.Fatalf("owner of 512 KiB = %v", o)
	}
	// Layers by cluster of 4 KiB: the slots of clusters 0-2 are base, mid, data file or top.
	h, err := e.layerHistogram([]js.Value{js.ValueOf(0), js.ValueOf(3), js.ValueOf(3)})
	if err != nil {
		t.Fatal(err)
	}
	stride := len(res["chain"].([]any)) + 2
	layerOf := func(c int) string {
		for l := 0; l < stride-2; l++ {
			if h.(js.Value).Index(c*stride+l).Int() == 1 {
				return res["chain"].([]any)[l].(map[string]any)["name"].(string)
			}
		}
		return "none"
	}
	if layerOf(0) != "base.img" || layerOf(1) != "mid.qcow2" || layerOf(2) == "base.img" || layerOf(2) == "mid.qcow2" {
		t.Fatalf("layers of clusters 0-2: %s %s %s", layerOf(0), layerOf(1), layerOf(2))
	}
}

func TestQcow2ChainOneByOne(t *testing.T) {
	top, mid, base, data := chainFiles(t)
	e := &engine{}
	want := []string{"top.data", "mid.qcow2", "base.img"}
	for i, f := range []js.Value{top, data, mid} {
		res := openFilesResult(t, e, i > 0, f)
		if !strings.EqualFold(res["missing_parent"].(string), want[i]) {
			t.Fatalf("step %d: missing = %v, want %s", i, res["missing_parent"], want[i])
		}
		if role := map[bool]string{true: "data file", false: "backing file"}[i == 0]; res["missing_role"] != role {
			t.Fatalf("step %d: missing_role = %v, want %s", i, res["missing_role"], role)
		}
		if _, err := e.readDisk([]js.Value{js.ValueOf(0), js.ValueOf(512)}); err == nil {
			t.Fatalf("step %d: readDisk worked with a missing file", i)
		}
	}
	res := openFilesResult(t, e, true, base)
	if res["chain_error"] != nil || res["name"] != "Top.qcow2" {
		t.Fatalf("complete: %v", res["chain_error"])
	}
	if got := readAll(t, e, e.readDisk, 1<<20); !bytes.Equal(got, chainDisk) {
		t.Fatal("readDisk differs after the files were added one by one")
	}
}

func TestQcow2SnapshotAndExport(t *testing.T) {
	e := &engine{}
	res := openFilesResult(t, e, false, namedFile(t, "snapshot.qcow2", fixture(t, "snapshot.qcow2")))
	snaps := res["overview"].(map[string]any)["qcow2"].(map[string]any)["snapshots"].([]any)
	if len(snaps) != 1 || snaps[0].(map[string]any)["name"] != "before" {
		t.Fatalf("snapshots = %v", snaps)
	}
	// After the snapshot qemu-io wrote 0x77 over the first 4 KiB.
	current := append(bytes.Repeat([]byte{0x77}, 4096), plainDisk[4096:]...)
	if got := readAll(t, e, e.readDisk, 1<<20); !bytes.Equal(got, current) {
		t.Fatal("current disk differs")
	}
	res = call(t, e.selectSnapshot, "before")
	if res["snapshot"] != "before" {
		t.Fatalf("snapshot = %v", res["snapshot"])
	}
	if got := readAll(t, e, e.readDisk, 1<<20); !bytes.Equal(got, plainDisk) {
		t.Fatal("the snapshot's disk differs from the disk before the snapshot")
	}
	if _, err := e.selectSnapshot([]js.Value{js.ValueOf("nope")}); err == nil {
		t.Fatal("an unknown snapshot was accepted")
	}

	sink := js.Global().Get("Function").New(`
		const chunks = [];
		return { chunks, write(c) { chunks.push(c.slice()); return Promise.resolve(); } };`).Invoke()
	call(t, e.selectSnapshot, "before")
	if _, err := e.exportQCOW2([]js.Value{sink, js.Undefined(), js.ValueOf(map[string]any{"compress": "zstd"})}); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := 0; i < sink.Get("chunks").Length(); i++ {
		c := sink.Get("chunks").Index(i)
		b := make([]byte, c.Length())
		js.CopyBytesToGo(b, c)
		out = append(out, b...)
	}
	e2 := &engine{}
	res = openFilesResult(t, e2, false, namedFile(t, "out.qcow2", out))
	if c := res["overview"].(map[string]any)["qcow2"].(map[string]any)["compression"]; c != "zstd" {
		t.Fatalf("compression = %v", c)
	}
	if got := readAll(t, e2, e2.readDisk, 1<<20); !bytes.Equal(got, plainDisk) {
		t.Fatal("the exported qcow2 reads differently")
	}
}

func TestRawAndUnknownFiles(t *testing.T) {
	e := &engine{}
	res := openFilesResult(t, e, false, namedFile(t, "disk.img", plainDisk))
	if s := res["summary"].(map[string]any); res["format"] != "raw" || s["virtual_size"].(float64) != 1<<20 || s["block_states"].(map[string]any)["data"].(float64) != 1 {
		t.Fatalf("raw: %v", res)
	}
	if got := readAll(t, e, e.readDisk, 1<<20); !bytes.Equal(got, plainDisk) {
		t.Fatal("raw readDisk differs")
	}
	vhd := make([]byte, 1024)
	copy(vhd[512:], "conectix")
	_, err := e.openFiles([]js.Value{js.ValueOf([]any{namedFile(t, "old.vhd", vhd)})})
	if err == nil || !strings.Contains(err.Error(), "VHD") {
		t.Fatalf("a VHD file: %v", err)
	}
	unknown := namedFile(t, "disk.unknown", plainDisk)
	if _, err := e.openFiles([]js.Value{js.ValueOf([]any{unknown})}); err == nil {
		t.Fatal("a file of no known format opened without asking")
	}
	out, err := e.openFiles([]js.Value{js.ValueOf([]any{unknown}), js.ValueOf(false), js.ValueOf(map[string]any{"format": "raw"})})
	if err != nil || !strings.Contains(out.(string), `"format":"raw"`) {
		t.Fatalf("open as raw: %v", err)
	}
}

func TestDamagedQcow2HasFindings(t *testing.T) {
	b := fixture(t, "plain.qcow2")
	// Point L1 entry 0 past the end of the file.
	l1 := int(b[40])<<56 | int(b[41])<<48 | int(b[42])<<40 | int(b[43])<<32 | int(b[44])<<24 | int(b[45])<<16 | int(b[46])<<8 | int(b[47])
	copy(b[l1:], []byte{0x80, 0, 0, 0, 0x7f, 0, 0, 0})
	e := &engine{}
	openFilesResult(t, e, false, namedFile(t, "bad.qcow2", b))
	chk := call(t, e.check)
	if chk["errors"].(float64) == 0 {
		t.Fatalf("no errors for an L1 entry past the end: %v", chk["findings"])
	}
}

func TestQcow2ChainExportsVHDX(t *testing.T) {
	top, mid, base, data := chainFiles(t)
	e := &engine{}
	openFilesResult(t, e, false, top, mid, base, data)
	sink := js.Global().Get("Function").New(`
		const chunks = [];
		return { chunks, write(c) { chunks.push(c.slice()); return Promise.resolve(); } };`).Invoke()
	if _, err := e.exportVHDX([]js.Value{sink}); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := 0; i < sink.Get("chunks").Length(); i++ {
		c := sink.Get("chunks").Index(i)
		b := make([]byte, c.Length())
		js.CopyBytesToGo(b, c)
		out = append(out, b...)
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
	if _, err := d.ReadAt(got, 0); err != nil || !bytes.Equal(got, chainDisk) {
		t.Fatalf("the exported VHDX differs from what qemu-io wrote (%v)", err)
	}
}
