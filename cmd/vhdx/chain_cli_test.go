package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
)

// writeChain writes base <- child into dir: the child lives in dir/child/
// and finds its parent through the Windows-style relative path
// ..\base\base.vhdx. It returns the child's path and the expected disk.
func writeChain(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	const mib = 1 << 20
	data := uuid.MustParse("0a0a0a0a-0000-4000-8000-000000000001")
	base := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib})
	base.Headers[0].DataWriteGUID, base.Headers[1].DataWriteGUID = data, data
	want := make([]byte, 4*mib)
	a := bytes.Repeat([]byte{0xa1}, mib)
	base.SetBlock(1, vhdxbuild.PayloadFullyPresent, a)
	copy(want[mib:], a)
	child := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib, HasParent: true, ParentLocator: []vhdxbuild.KeyValue{
		{Key: "parent_linkage", Value: vhdxbuild.FormatParentLinkage(data)},
		{Key: "relative_path", Value: `..\base\base.vhdx`},
		{Key: "absolute_win32_path", Value: `D:\vms\base\base.vhdx`},
	}})
	c := bytes.Repeat([]byte{0xc2}, mib)
	child.SetBlock(2, vhdxbuild.PayloadFullyPresent, c)
	copy(want[2*mib:], c)
	for name, b := range map[string][]byte{"base/base.vhdx": base.Bytes(), "child/child.avhdx": child.Bytes()} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "child", "child.avhdx"), want
}

func TestChainCommands(t *testing.T) {
	dir := t.TempDir()
	childPath, want := writeChain(t, dir)

	if got := mustSucceed(t, "cat", childPath); !bytes.Equal(got, want) {
		t.Fatal("cat of the chain differs from the expected content")
	}
	var info struct {
		DiskType string `json:"disk_type"`
		Layers   []struct {
			Name   string `json:"name"`
			Role   string `json:"role"`
			Format string `json:"format"`
		} `json:"layers"`
		VHDX struct {
			HasParent bool `json:"has_parent"`
			Chain     []struct {
				Name     string `json:"name"`
				DiskType string `json:"disk_type"`
			} `json:"chain"`
		} `json:"vhdx"`
	}
	if err := json.Unmarshal(mustSucceed(t, "info", "--json", childPath), &info); err != nil {
		t.Fatal(err)
	}
	if v := info.VHDX; !v.HasParent || len(v.Chain) != 2 || v.Chain[1].DiskType != "base" || filepath.Base(v.Chain[1].Name) != "base.vhdx" {
		t.Fatalf("info chain = %+v", info)
	}
	if l := info.Layers; info.DiskType != "differencing" || len(l) != 2 || l[0].Role != "image" || l[1].Role != "parent" || l[1].Format != "vhdx" || filepath.Base(l[1].Name) != "base.vhdx" {
		t.Fatalf("info layers = %+v", info)
	}
	var m struct {
		Layers  []string `json:"layers"`
		Extents []struct {
			Start, Length int64
			State         string
			Layer         int
		} `json:"extents"`
	}
	if err := json.Unmarshal(mustSucceed(t, "map", "--json", childPath), &m); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, e := range m.Extents {
		got += strings.Join([]string{e.State, string(rune('0' + e.Layer))}, "@") + " "
	}
	if len(m.Layers) != 2 || got != "not_present@1 fully_present@1 fully_present@0 not_present@1 " {
		t.Fatalf("map layers %v extents %q", m.Layers, got)
	}
	if r := runCLI(t, "check", childPath); r.code != 0 {
		t.Fatalf("check of a sound chain: exit %d\n%s", r.code, r.stdout)
	}
}

func TestChainWithMissingParent(t *testing.T) {
	dir := t.TempDir()
	childPath, _ := writeChain(t, dir)
	if err := os.Remove(filepath.Join(dir, "base", "base.vhdx")); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "cat", childPath)
	if r.code == 0 || !bytes.Contains(r.stderr, []byte("base.vhdx")) || !bytes.Contains(r.stderr, []byte("parent disk not found")) {
		t.Fatalf("cat without the parent: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, "check", "--json", childPath)
	if r.code != 1 || !bytes.Contains(r.stdout, []byte(`"chain.parent_missing"`)) {
		t.Fatalf("check without the parent: exit %d\n%s", r.code, r.stdout)
	}
	var info map[string]any
	if err := json.Unmarshal(mustSucceed(t, "info", "--json", childPath), &info); err != nil {
		t.Fatal(err)
	}
	if msg, _ := info["chain_error"].(string); !strings.Contains(msg, "base.vhdx") || info["missing"] != "base.vhdx" {
		t.Fatalf("info chain_error = %q, missing = %v", msg, info["missing"])
	}
	// map still shows the child's own block (block 2), and marks what needs the parent.
	r = runCLI(t, "map", "--json", childPath)
	var m struct {
		Layers  []string `json:"layers"`
		Extents []struct {
			Start, Length int64
			State         string
			Layer         int
		} `json:"extents"`
	}
	if err := json.Unmarshal(r.stdout, &m); err != nil || r.code != 0 || !bytes.Contains(r.stderr, []byte("base.vhdx")) {
		t.Fatalf("map without the parent: exit %d, %v, stderr %q", r.code, err, r.stderr)
	}
	got := fmt.Sprint(m.Layers[1:], m.Extents)
	if want := "[base.vhdx (missing)] [{0 2097152 needs_parent 1} {2097152 1048576 fully_present 0} {3145728 1048576 needs_parent 1}]"; got != want {
		t.Fatalf("map without the parent:\n got %s\nwant %s", got, want)
	}
}

func TestChainFoundBesideChildByName(t *testing.T) {
	// Neither path in the locator leads anywhere, but the parent sits in the
	// child's own folder under the expected name.
	dir := t.TempDir()
	childPath, want := writeChain(t, dir)
	if err := os.Rename(filepath.Join(dir, "base", "base.vhdx"), filepath.Join(dir, "child", "base.vhdx")); err != nil {
		t.Fatal(err)
	}
	if got := mustSucceed(t, "cat", childPath); !bytes.Equal(got, want) {
		t.Fatal("cat of the chain with the parent beside the child differs")
	}
}
