package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Raw images open by their name or by --format raw; files in formats the
// tool does not read are named for what they are.
func TestFormatsOnTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("raw disk bytes.."), 64*1024) // 1 MiB
	raw := filepath.Join(dir, "disk.img")
	noName := filepath.Join(dir, "disk.data")
	vhd := filepath.Join(dir, "old.vhd")
	footer := make([]byte, 4096)
	copy(footer[len(footer)-512:], "conectix")
	for p, b := range map[string][]byte{raw: data, noName: data, vhd: footer} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if got := mustSucceed(t, "cat", raw); !bytes.Equal(got, data) {
		t.Fatal("cat of a raw image differs from the file")
	}
	var info struct {
		Format      string `json:"format"`
		DiskType    string `json:"disk_type"`
		VirtualSize int64  `json:"virtual_size"`
		Layers      []struct{ Name, Role, Format string }
	}
	if err := json.Unmarshal(mustSucceed(t, "info", "--json", raw), &info); err != nil {
		t.Fatal(err)
	}
	if info.Format != "raw" || info.VirtualSize != int64(len(data)) || len(info.Layers) != 1 || info.Layers[0].Format != "raw" {
		t.Fatalf("info of a raw image: %+v", info)
	}
	if out := mustSucceed(t, "map", raw); !bytes.Contains(out, []byte("0x100000")) || !bytes.Contains(out, []byte("data")) {
		t.Fatalf("map of a raw image:\n%s", out)
	}

	r := runCLI(t, "info", noName)
	if r.code != 2 || !bytes.Contains(r.stderr, []byte("--format raw")) && !bytes.Contains(r.stderr, []byte("as raw")) {
		t.Fatalf("info of a file in no known format: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := mustSucceed(t, "cat", "--format", "raw", noName); !bytes.Equal(got, data) {
		t.Fatal("cat --format raw differs from the file")
	}
	for _, cmd := range []string{"info", "check", "map", "cat"} {
		r := runCLI(t, cmd, vhd)
		if r.code != 2 || !strings.Contains(string(r.stderr), "a VHD (Virtual PC") || !strings.Contains(string(r.stderr), "old.vhd") {
			t.Errorf("%s of a VHD: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
	}
	if r := runCLI(t, "info", "--format", "vmdk", raw); r.code != 2 || !bytes.Contains(r.stderr, []byte("unknown format")) {
		t.Errorf("--format vmdk: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, "merge", raw, filepath.Join(dir, "out.vhdx")); r.code != 2 || !bytes.Contains(r.stderr, []byte("no chain to merge")) {
		t.Errorf("merge of a raw image: exit %d, stderr %q", r.code, r.stderr)
	}
}
