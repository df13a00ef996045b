package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// qcow2Chain makes, with qemu-img and qemu-io, top.qcow2 -> mid.qcow2 ->
// base.raw in dir/vm (mid with an external data file and top with an
// internal snapshot), and returns the top's path.
func qcow2Chain(t *testing.T, dir string) string {
	t.Helper()
	vm := filepath.Join(dir, "vm")
	if err := os.MkdirAll(vm, 0o755); err != nil {
		t.Fatal(err)
	}
	p := func(n string) string { return filepath.Join(vm, n) }
	runTool(t, "qemu-img", "create", "-q", "-f", "raw", p("base.raw"), "8M")
	runTool(t, "qemu-io", "-f", "raw", "-c", "write -P 0x11 0 2M", p("base.raw"))
	runTool(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file="+p("mid.data")+",cluster_size=4096", "-b", "base.raw", "-F", "raw", p("mid.qcow2"), "8M")
	runTool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x22 1M 2M", p("mid.qcow2"))
	runTool(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", p("top.qcow2"))
	runTool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x33 2M 512K", p("top.qcow2"))
	runTool(t, "qemu-img", "snapshot", "-c", "before", p("top.qcow2"))
	runTool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x44 6M 1M", "-c", "write -z 0 64K", p("top.qcow2"))
	return p("top.qcow2")
}

func TestQCOW2Commands(t *testing.T) {
	dir := t.TempDir()
	top := qcow2Chain(t, dir)
	want := filepath.Join(dir, "want.raw")
	runTool(t, "qemu-img", "convert", "-O", "raw", top, want)
	wantBytes, _ := os.ReadFile(want)
	if got := mustSucceed(t, "cat", top); !bytes.Equal(got, wantBytes) {
		t.Fatal("cat of a qcow2 chain differs from qemu-img convert")
	}
	snap := filepath.Join(dir, "snap.raw")
	runTool(t, "qemu-img", "convert", "-l", "snapshot.name=before", "-O", "raw", top, snap)
	snapBytes, _ := os.ReadFile(snap)
	if got := mustSucceed(t, "cat", "--snapshot", "before", top); !bytes.Equal(got, snapBytes) {
		t.Fatal("cat --snapshot differs from qemu-img convert -l")
	}
	if bytes.Equal(snapBytes, wantBytes) {
		t.Fatal("the snapshot and the current disk are the same: the test proves nothing")
	}

	var info struct {
		Format      string `json:"format"`
		DiskType    string `json:"disk_type"`
		VirtualSize int64  `json:"virtual_size"`
		Layers      []struct{ Name, Role, Format string }
		QCOW2       struct {
			BackingFile string `json:"backing_file"`
			Snapshots   []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"snapshots"`
		} `json:"qcow2"`
	}
	if err := json.Unmarshal(mustSucceed(t, "info", "--json", top), &info); err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, l := range info.Layers {
		roles = append(roles, filepath.Base(l.Name)+":"+l.Role+":"+l.Format)
	}
	if got := strings.Join(roles, " "); got != "top.qcow2:image:qcow2 mid.qcow2:backing file:qcow2 mid.data:data file:raw base.raw:backing file:raw" {
		t.Errorf("layers: %s", got)
	}
	if info.Format != "qcow2" || info.DiskType != "differencing" || info.VirtualSize != 8<<20 || info.QCOW2.BackingFile != "mid.qcow2" || len(info.QCOW2.Snapshots) != 1 || info.QCOW2.Snapshots[0].Name != "before" {
		t.Errorf("info: %+v", info)
	}
	if r := runCLI(t, "check", top); r.code != 0 || !bytes.Contains(r.stdout, []byte("0 errors")) {
		t.Errorf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := mustSucceed(t, "map", "--json", top)
	for _, state := range []string{`"state":"normal"`, `"state":"zero"`, `"layer":3`} {
		if !bytes.Contains(out, []byte(state)) {
			t.Errorf("map --json has no %s:\n%s", state, out)
		}
	}

	// qcow2 to VHDX and back to raw: the same disk.
	vhdxOut := filepath.Join(dir, "flat.vhdx")
	mustSucceed(t, "convert", top, vhdxOut)
	runTool(t, "qemu-img", "compare", "-f", "vhdx", "-F", "raw", vhdxOut, want)

	// To qcow2, plain and compressed: qemu-img finds no error and no leak,
	// and reads the same disk.
	for _, flags := range [][]string{{}, {"--compress", "zlib"}, {"--compress", "zstd", "--cluster-size", "4K"}} {
		q := filepath.Join(dir, "out"+strings.Join(flags, "")+".qcow2")
		mustSucceed(t, append(append([]string{"convert"}, flags...), top, q)...)
		var chk struct {
			CheckErrors int `json:"check-errors"`
			Leaks       int `json:"leaks"`
			Corruptions int `json:"corruptions"`
		}
		if err := json.Unmarshal(runTool(t, "qemu-img", "check", "--output=json", q), &chk); err != nil || chk.CheckErrors+chk.Leaks+chk.Corruptions != 0 {
			t.Errorf("qemu-img check %v: %+v %v", flags, chk, err)
		}
		runTool(t, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", q, want)
		if got := mustSucceed(t, "cat", q); !bytes.Equal(got, wantBytes) {
			t.Errorf("cat of our qcow2 %v differs", flags)
		}
	}
	// A VHDX checkpoint chain becomes one qcow2 in one pass.
	child, chainBytes := writeChain(t, filepath.Join(dir, "hyperv"))
	merged := filepath.Join(dir, "merged.qcow2")
	mustSucceed(t, "merge", "--compress", "zstd", child, merged)
	if got := mustSucceed(t, "cat", merged); !bytes.Equal(got, chainBytes) {
		t.Error("the merged qcow2 differs from the VHDX chain")
	}
	runTool(t, "qemu-img", "check", merged)
	if r := runCLI(t, "convert", "--compress", "zstd", top, filepath.Join(dir, "x.vhdx")); r.code != 2 {
		t.Errorf("--compress with a VHDX output: exit %d", r.code)
	}

	// A missing backing file is named, with a code of its own.
	if err := os.Rename(filepath.Join(dir, "vm", "base.raw"), filepath.Join(dir, "base.raw")); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "check", "--json", top)
	if r.code != 1 || !bytes.Contains(r.stdout, []byte(`"chain.backing_file_missing"`)) || !bytes.Contains(r.stdout, []byte("base.raw")) {
		t.Errorf("check without the base: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, "cat", top); r.code == 0 || !bytes.Contains(r.stderr, []byte("base.raw")) {
		t.Errorf("cat without the base: exit %d, stderr %q", r.code, r.stderr)
	}
}
