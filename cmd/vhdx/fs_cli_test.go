package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
)

// fsDisk makes a raw disk with an MBR (sfdisk) whose partition 1 starts at
// sector 2048 and holds an ext4 filesystem made by mkfs.ext4 -d, with one
// name removed by debugfs. It returns the disk and the filesystem image.
func fsDisk(t *testing.T, dir string) (disk, fsImg string) {
	tree := filepath.Join(dir, "tree")
	for name, data := range map[string]string{
		"a.txt":                "alpha\n",
		"dir/b.txt":            "bravo\n",
		"dir/sub/ünïcødé.txt":  "unicode\n",
		"dir/sub/gone.txt":     "removed\n",
		"big/" + "data.bin":    strings.Repeat("0123456789", 200_000),
		"dir/sub/deep/e/f.txt": "deep\n",
	} {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../a.txt", filepath.Join(tree, "dir/link")); err != nil {
		t.Fatal(err)
	}
	fsImg = filepath.Join(dir, "fs.img")
	runTool(t, "mkfs.ext4", "-q", "-d", tree, fsImg, "16M")
	runTool(t, "debugfs", "-w", "-R", "rm /dir/sub/gone.txt", fsImg)
	fsData, err := os.ReadFile(fsImg)
	if err != nil {
		t.Fatal(err)
	}
	disk = filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 24*MiB), 0o644); err != nil {
		t.Fatal(err)
	}
	disktest.OutputInput(t, "label: dos\nstart=2048, type=83\n", "sfdisk", "-q", disk)
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(fsData, 1*MiB); err != nil {
		t.Fatal(err)
	}
	return disk, fsImg
}

// dirtyVHDX writes the raw disk as a VHDX whose first 4 KiB (the MBR) are
// only in an unreplayed log entry: the partition is there only after
// replay.
func dirtyVHDX(t *testing.T, raw []byte, path string) {
	im := vb.New(vb.Options{VirtualSize: uint64(len(raw))})
	for b := 0; b*int(MiB) < len(raw); b++ {
		block := append([]byte(nil), raw[b*int(MiB):(b+1)*int(MiB)]...)
		if b == 0 {
			clear(block[:4096])
		}
		if !bytes.Equal(block, make([]byte, len(block))) || b == 0 {
			im.SetBlock(b, vb.PayloadFullyPresent, block)
		}
	}
	e := vb.NewLogEntry(1)
	e.Writes = []vb.LogWrite{{FileOffset: im.Blocks[0].FileOffset, Data: raw[:4096]}}
	im.AddLogEntry(e)
	if err := os.WriteFile(path, im.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flsBody is fls -m's listing of the partition at sector 2048 of disk,
// without The Sleuth Kit's virtual $OrphanFiles folder.
func flsBody(t *testing.T, disk string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(runTool(t, "fls", "-o", "2048", "-r", "-p", "-m", "/", disk))), "\n") {
		if !strings.Contains(l, "|/$OrphanFiles") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// TestFilesystemCommands lists, extracts and makes a body file of an ext4
// partition through a raw disk, a VHDX made by `vhdx convert`, a VHDX
// whose MBR is only in its dirty log, and a qcow2 image made by qemu-img,
// and compares them with The Sleuth Kit reading the raw disk: the body
// file line for line, every ls --json entry, and file contents against
// icat.
func TestFilesystemCommands(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "debugfs", "sfdisk", "fls", "icat", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run build/setup.sh", tool)
		}
	}
	dir := t.TempDir()
	disk, _ := fsDisk(t, dir)
	converted := filepath.Join(dir, "disk.vhdx")
	mustSucceed(t, "convert", disk, converted)
	raw, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	qcow := filepath.Join(dir, "disk.qcow2")
	runTool(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk, qcow)
	dirty := filepath.Join(dir, "dirty.vhdx")
	dirtyVHDX(t, raw, dirty)
	if out := runCLI(t, "check", dirty); !bytes.Contains(out.stdout, []byte("log.replay_needed")) {
		t.Fatalf("the dirty image needs no replay:\n%s", out.stdout)
	}
	want := flsBody(t, disk)
	for _, img := range []string{disk, converted, dirty, qcow} {
		t.Run(filepath.Base(img), func(t *testing.T) {
			got := strings.Split(strings.TrimSpace(string(mustSucceed(t, "bodyfile", img, "1"))), "\n")
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("bodyfile differs from fls -m:\n%s\nfls:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			checkLsJSON(t, img, disk, want)
		})
	}
}

// checkLsJSON checks ls --json -r --deleted against fls's body lines and
// get against icat.
func checkLsJSON(t *testing.T, img, disk string, body []string) {
	byPath := map[string][]string{}
	for _, l := range body {
		f := strings.Split(l, "|")
		name, _, _ := strings.Cut(f[1], " -> ")
		name = strings.TrimSuffix(name, " (deleted)")
		byPath[name] = f
	}
	out := mustSucceed(t, "ls", "--json", "-r", "--deleted", img, "1", "/")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct {
			Partition                  int
			Path, Type, ID, Mode       string
			Size                       int64
			Mtime, Atime, Ctime, Btime *string
			Deleted                    bool
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("ls --json line %q: %v", line, err)
		}
		n++
		f, ok := byPath[e.Path]
		if !ok {
			t.Errorf("%s listed by ls, not by fls", e.Path)
			continue
		}
		if e.Partition != 1 || e.ID != f[2] || fmt.Sprint(e.Size) != f[6] || e.Deleted != strings.HasSuffix(f[1], " (deleted)") || e.Mtime == nil || e.Btime == nil {
			t.Errorf("%s: %+v; fls %v", e.Path, e, f)
		}
		if e.Type == "file" && !e.Deleted {
			got := mustSucceed(t, "get", img, "1", e.Path)
			if sha256.Sum256(got) != sha256.Sum256(runTool(t, "icat", "-o", "2048", disk, e.ID)) {
				t.Errorf("get %s differs from icat", e.Path)
			}
		}
	}
	if n != len(body) {
		t.Errorf("ls listed %d entries, fls %d", n, len(body))
	}
}
