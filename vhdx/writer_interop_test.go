package vhdx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Interoperability: images this package creates and writes are checked by
// qemu-img (512-byte sectors, no parent: what QEMU supports) and read by
// libvhdi through its Python binding pyvhdi (every kind, chains included).
// Both are optional; the tests say so when they skip.

const wtPython = "/usr/bin/python3" // Debian's python3-libvhdi; the pyenv python3 on PATH lacks it

func wtNeedQemu(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not on PATH: skipping the QEMU interoperability checks")
	}
}

func wtNeedPyvhdi(t *testing.T) {
	t.Helper()
	if err := exec.Command(wtPython, "-c", "import pyvhdi").Run(); err != nil {
		t.Skipf("%s cannot import pyvhdi (Debian package python3-libvhdi): skipping the libvhdi checks", wtPython)
	}
}

// wtOSImage creates an image file in dir and returns it open.
func wtOSImage(t *testing.T, dir, name string, opt CreateOptions) (*os.File, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := Create(f, opt); err != nil {
		t.Fatal(err)
	}
	return f, path
}

func wtSize(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// wtWriteSession opens f for writing, runs a workload into model, closes.
func wtWriteSession(t *testing.T, f *os.File, model []byte, n int, seed uint64) {
	t.Helper()
	w, err := OpenWriter(f, wtSize(t, f))
	if err != nil {
		t.Fatal(err)
	}
	img := w.Image()
	wtWorkload(t, w, model, int64(img.Metadata.LogicalSectorSize), int64(img.Metadata.BlockSize), n, seed)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func wtQemuInfo(t *testing.T, path string) map[string]any {
	t.Helper()
	out, err := wtRun(true, "qemu-img", "info", "--output=json", "-f", "vhdx", path)
	if err != nil {
		t.Fatalf("qemu-img info: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestQEMUInterop(t *testing.T) {
	wtNeedQemu(t)
	dir := t.TempDir()
	for i, opt := range []CreateOptions{
		{VirtualSize: 64 * mib},
		{VirtualSize: 64 * mib, Fixed: true},
		{VirtualSize: 100*mib + 512, BlockSize: 1 * mib},
		{VirtualSize: 100*mib + 512, BlockSize: 1 * mib, Fixed: true},
		{VirtualSize: 5*gib + 3*mib, BlockSize: 1 * mib, LogSize: 4 * mib},
		{VirtualSize: 600 * mib, BlockSize: 256 * mib},
		{VirtualSize: 2 * tib, BlockSize: 64 * mib, PhysicalSectorSize: 512},
	} {
		t.Run(fmt.Sprintf("%d-%d-fixed=%t", opt.VirtualSize, opt.BlockSize, opt.Fixed), func(t *testing.T) {
			f, path := wtOSImage(t, dir, fmt.Sprintf("img%d.vhdx", i), opt)
			info := wtQemuInfo(t, path)
			if vs, _ := info["virtual-size"].(float64); uint64(vs) != opt.VirtualSize {
				t.Errorf("qemu-img info: virtual-size %v, want %d", info["virtual-size"], opt.VirtualSize)
			}
			bs := opt.BlockSize
			if bs == 0 {
				bs = DefaultBlockSize
			}
			if cs, _ := info["cluster-size"].(float64); uint32(cs) != bs {
				t.Errorf("qemu-img info: cluster-size %v, want %d", info["cluster-size"], bs)
			}
			wtQemuCheck(t, path)
			if opt.VirtualSize > gib {
				// Big disks: a few writes, then qemu's view of them.
				w, err := OpenWriter(f, wtSize(t, f))
				if err != nil {
					t.Fatal(err)
				}
				p := wtPattern(3*mib, 9)
				at := int64(opt.VirtualSize) - 3*mib - 512
				if _, err := w.WriteAt(p, at); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				wtQemuCheck(t, path)
				out, err := wtRun(false, "qemu-io", "-f", "vhdx", "-r", "-c", fmt.Sprintf("read -P 0 0 %d", 64*mib), path)
				if err != nil || strings.Contains(string(out), "Pattern verification failed") {
					t.Errorf("qemu-io read of the unwritten start: %v\n%s", err, out)
				}
				return
			}
			model := make([]byte, opt.VirtualSize)
			for s := 0; s < 2; s++ {
				wtWriteSession(t, f, model, 40, uint64(10*i+s))
				wtQemuCheck(t, path)
				if !bytes.Equal(wtQemuConvert(t, path), model) {
					t.Fatalf("session %d: qemu-img convert differs from what was written", s)
				}
			}
			// QEMU writes into our image; we read its writes and write again.
			if _, err := exec.LookPath("qemu-io"); err == nil {
				out, err := wtRun(false, "qemu-io", "-f", "vhdx", "-c", "write -P 0xa5 1048064 1536", "-c", fmt.Sprintf("write -P 0x5a %d 65536", int64(opt.VirtualSize)-65536-512), path)
				if err != nil {
					t.Fatalf("qemu-io write: %v\n%s", err, out)
				}
				copy(model[1048064:], bytes.Repeat([]byte{0xa5}, 1536))
				copy(model[int64(opt.VirtualSize)-65536-512:], bytes.Repeat([]byte{0x5a}, 65536))
				img, err := Open(f, wtSize(t, f))
				if err != nil {
					t.Fatal(err)
				}
				wtClean(t, img)
				wtCompare(t, wtDiskReader(img), model)
				wtWriteSession(t, f, model, 20, uint64(10*i+5))
				wtQemuCheck(t, path)
				if !bytes.Equal(wtQemuConvert(t, path), model) {
					t.Fatalf("after qemu-io and a third session: qemu-img convert differs")
				}
			}
		})
	}

	// An image qemu-img created, written by us.
	for _, sub := range []string{"dynamic", "fixed"} {
		t.Run("qemu-created-"+sub, func(t *testing.T) {
			path := filepath.Join(dir, "qemu-"+sub+".vhdx")
			if out, err := wtRun(false, "qemu-img", "create", "-f", "vhdx", "-o", "subformat="+sub+",block_size=2097152", path, "48M"); err != nil {
				t.Fatalf("qemu-img create: %v\n%s", err, out)
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			model := make([]byte, 48*mib)
			wtWriteSession(t, f, model, 40, 77)
			wtQemuCheck(t, path)
			if !bytes.Equal(wtQemuConvert(t, path), model) {
				t.Fatalf("qemu-img convert differs from what we wrote into qemu's image")
			}
			img, err := Open(f, wtSize(t, f))
			if err != nil {
				t.Fatal(err)
			}
			// QEMU does not mark its regions required: info, not warnings.
			wtClean(t, img)
			wtCompare(t, wtDiskReader(img), model)
		})
	}
}

// wtPyvhdiDump reads the disk at paths[0] with pyvhdi, each following path
// being the parent of the one before, and returns the media size, the
// disk's identifier and parent identifier (as pyvhdi reports them), and
// the whole virtual disk.
func wtPyvhdiDump(t *testing.T, out string, paths ...string) (size int64, id, parentID, parentName string, data []byte) {
	t.Helper()
	script := `
import sys, pyvhdi
out, paths = sys.argv[1], sys.argv[2:]
files = []
for p in paths:
    f = pyvhdi.file()
    f.open(p)
    files.append(f)
for child, parent in zip(files, files[1:]):
    child.set_parent(parent)
f = files[0]
print(f.media_size)
print(f.identifier)
print(f.parent_identifier)
print(f.parent_filename)
with open(out, "wb") as o:
    off = 0
    while off < f.media_size:
        n = min(4 << 20, f.media_size - off)
        o.write(f.read_buffer_at_offset(n, off))
        off += n
`
	b, err := wtRun(false, wtPython, append([]string{"-c", script, out}, paths...)...)
	if err != nil {
		t.Fatalf("pyvhdi: %v\n%s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 {
		t.Fatalf("pyvhdi printed %q", b)
	}
	fmt.Sscan(lines[0], &size)
	data, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	return size, lines[1], lines[2], lines[3], data
}

func TestLibvhdiInterop(t *testing.T) {
	wtNeedPyvhdi(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "dump.raw")
	for i, opt := range []CreateOptions{
		{VirtualSize: 40 * mib},
		{VirtualSize: 40 * mib, Fixed: true},
		{VirtualSize: 20*mib + 4096, BlockSize: 1 * mib, LogicalSectorSize: 4096},
		{VirtualSize: 20*mib + 4096, BlockSize: 2 * mib, LogicalSectorSize: 4096, Fixed: true},
		{VirtualSize: 300*mib + 512, BlockSize: 256 * mib},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d-fixed=%t", opt.VirtualSize, opt.BlockSize, opt.LogicalSectorSize, opt.Fixed), func(t *testing.T) {
			f, path := wtOSImage(t, dir, fmt.Sprintf("img%d.vhdx", i), opt)
			model := make([]byte, opt.VirtualSize)
			wtWriteSession(t, f, model, 30, uint64(i+1))
			size, id, _, _, data := wtPyvhdiDump(t, out, path)
			img, _ := Open(f, wtSize(t, f))
			if size != int64(opt.VirtualSize) || !bytes.Equal(data, model) {
				t.Errorf("pyvhdi: media size %d (want %d), content equal %t", size, opt.VirtualSize, bytes.Equal(data, model))
			}
			if id != img.CurrentHeader().DataWriteGUID.String() {
				t.Errorf("pyvhdi identifier %s, want the DataWriteGuid %s", id, img.CurrentHeader().DataWriteGUID)
			}
		})
	}
	for _, lss := range []uint32{512, 4096} {
		for _, bs := range []uint32{1 * mib, 32 * mib} {
			t.Run(fmt.Sprintf("chain-%d-%d", lss, bs), func(t *testing.T) {
				size := uint64(70*mib + 3*int64(lss))
				base, basePath := wtOSImage(t, dir, fmt.Sprintf("base-%d-%d.vhdx", lss, bs), CreateOptions{VirtualSize: size, BlockSize: bs, LogicalSectorSize: lss})
				model := make([]byte, size)
				wtWriteSession(t, base, model, 30, 5)
				paths := []string{basePath}
				var chain []*Image
				prev := base
				for level := 1; level <= 2; level++ {
					parentImg, err := Open(prev, wtSize(t, prev))
					if err != nil {
						t.Fatal(err)
					}
					chain = append([]*Image{parentImg}, chain...)
					name := fmt.Sprintf("child%d-%d-%d.vhdx", level, lss, bs)
					child, childPath := wtOSImage(t, dir, name, CreateOptions{Parent: &ParentInfo{
						Image: parentImg, RelativePath: filepath.Base(paths[0]), AbsoluteWin32Path: `C:\vms\` + filepath.Base(paths[0]),
					}})
					wtWriteSession(t, child, model, 30, uint64(10+level))
					paths = append([]string{childPath}, paths...)
					got, id, parentID, parentName, data := wtPyvhdiDump(t, out, paths...)
					img, err := Open(child, wtSize(t, child))
					if err != nil {
						t.Fatal(err)
					}
					wtClean(t, img)
					wtCompare(t, wtDiskReader(img, chain...), model)
					if got != int64(size) || !bytes.Equal(data, model) {
						t.Fatalf("level %d: pyvhdi media size %d, content equal %t", level, got, bytes.Equal(data, model))
					}
					if parentID != parentImg.CurrentHeader().DataWriteGUID.String() || id != img.CurrentHeader().DataWriteGUID.String() {
						t.Errorf("level %d: pyvhdi identifier %s parent %s; want %s and %s", level, id, parentID, img.CurrentHeader().DataWriteGUID, parentImg.CurrentHeader().DataWriteGUID)
					}
					if want := `C:\vms\` + filepath.Base(paths[1]); parentName != want {
						t.Errorf("level %d: pyvhdi parent filename %q, want %q (absolute_win32_path)", level, parentName, want)
					}
					if _, err := uuid.Parse(parentID); err != nil {
						t.Errorf("parent identifier %q", parentID)
					}
					prev = child
				}
			})
		}
	}
}
