package qcow2

import (
	"bytes"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// patterns writes data, zeros and discards at scattered offsets of a disk
// of size bytes with qemu-io.
func patterns(t testing.TB, path string, size int64, seed int, extra ...string) {
	t.Helper()
	cmds := []string{
		fmt.Sprintf("write -P %d 0 65536", 0x11+seed),
		fmt.Sprintf("write -P %d 1049088 3072", 0x22+seed),   // 1 MiB + 512, unaligned to clusters
		fmt.Sprintf("write -P %d 2097152 262144", 0x33+seed), // 2 MiB
		"write -z 2162688 65536",
		"discard 2293760 65536",
		fmt.Sprintf("write -P %d %d 70656", 0x44+seed, size-70656),
		fmt.Sprintf("write -P %d %d 4096", 0x55+seed, size/2+int64(seed)*8192),
	}
	args := []string{"-f", "qcow2"}
	args = append(args, extra...)
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	disktest.Output(t, "qemu-io", append(args, path)...)
}

// compareWithQemu checks that our disk equals qemu-img convert's, that
// Check agrees with qemu-img check and finds no error, and that libqcow
// agrees where it can read the image.
func compareWithQemu(t *testing.T, path string, libqcow bool) {
	t.Helper()
	img := openImage(t, path)
	d, err := OpenChain(img, path, dirResolver(t, filepath.Dir(path)))
	if err != nil {
		t.Fatalf("OpenChain: %v", err)
	}
	got := diskBytes(t, d)
	disktest.SameBytes(t, "disk", got, qemuRaw(t, path))
	compareMap(t, path, d)
	// Outside DataRanges the disk reads as zeros.
	var next int64
	err = d.DataRanges(func(off, n int64) error {
		if off < next || n <= 0 {
			t.Fatalf("DataRanges: %d+%d after %d", off, n, next)
		}
		if !bytes.Equal(got[next:off], make([]byte, off-next)) {
			t.Errorf("non-zero bytes between data ranges in [%d, %d)", next, off)
		}
		next = off + n
		return nil
	})
	if err != nil || !bytes.Equal(got[next:], make([]byte, int64(len(got))-next)) {
		t.Errorf("DataRanges: %v, or non-zero bytes after the last range", err)
	}
	rep := img.CheckReport()
	q := runQemuCheck(t, path)
	if rep.Leaks != q.Leaks || rep.Corruptions != q.Corruptions || rep.CheckErrors != q.CheckErrors {
		t.Errorf("check: leaks %d corruptions %d check-errors %d, qemu-img %+v", rep.Leaks, rep.Corruptions, rep.CheckErrors, q)
	}
	for _, f := range rep.Findings {
		if f.Severity == SeverityError {
			t.Errorf("finding on a qemu-made image: %+v", f)
		}
	}
	if libqcow {
		// libqcow ignores the zero flag of version 3: compare the rest.
		lq := libqcowRead(t, path)
		err := d.Extents(func(e Extent) error {
			if e.Kind != Zero && e.Kind != ZeroAllocated {
				disktest.SameBytes(t, fmt.Sprintf("libqcow at %d", e.Start), got[e.Start:e.Start+e.Length], lq[e.Start:e.Start+e.Length])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// libqcowRead reads the disk with python3-libqcow.
func libqcowRead(t testing.TB, path string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "libqcow.raw")
	script := `import sys, pyqcow
f = pyqcow.file()
f.open(sys.argv[1])
with open(sys.argv[2], "wb") as o:
    left = f.get_media_size()
    while left > 0:
        b = f.read_buffer(min(left, 1 << 20))
        if not b:
            raise SystemExit("short read")
        o.write(b)
        left -= len(b)
`
	cmd := exec.Command("/usr/bin/python3", "-c", script, path, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("libqcow: %v: %s (install python3-libqcow: build/setup.sh)", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestQemuMatrix(t *testing.T) {
	const size = 8 << 20
	cases := []struct {
		name, opts string
		libqcow    bool
	}{
		{"cluster512", "cluster_size=512", true},
		{"cluster4k", "cluster_size=4096", true},
		{"cluster64k", "", true},
		{"cluster2M", "cluster_size=2M", true},
		{"compat010", "compat=0.10", true},
		{"extended_l2", "extended_l2=on", false},
		{"extended_l2_2M", "extended_l2=on,cluster_size=2M", false},
		{"refcount1", "refcount_bits=1", true},
		{"refcount2", "refcount_bits=2", true},
		{"refcount4", "refcount_bits=4", true},
		{"refcount8", "refcount_bits=8", true},
		{"refcount32", "refcount_bits=32", true},
		{"refcount64", "refcount_bits=64", true},
		{"lazy", "lazy_refcounts=on", true},
		{"prealloc_metadata", "preallocation=metadata", true},
		{"prealloc_falloc", "preallocation=falloc", true},
		{"prealloc_full", "preallocation=full", true},
		{"data_file", "data_file=DATA", false},
		{"data_file_raw", "data_file=DATA,data_file_raw=on", false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "x.qcow2")
			args := []string{"create", "-q", "-f", "qcow2"}
			if c.opts != "" {
				args = append(args, "-o", strings.ReplaceAll(c.opts, "DATA", filepath.Join(dir, "x.data")))
			}
			disktest.Output(t, "qemu-img", append(args, path, fmt.Sprint(size))...)
			patterns(t, path, size, i)
			compareWithQemu(t, path, c.libqcow)
		})
	}
}

func TestQemuCompressed(t *testing.T) {
	for _, c := range []struct{ name, opts string }{
		{"zlib64k", "compression_type=zlib"},
		{"zlib4k", "compression_type=zlib,cluster_size=4096"},
		{"zstd64k", "compression_type=zstd"},
		{"zstd2M", "compression_type=zstd,cluster_size=2M"},
		{"zstd_extended_l2", "compression_type=zstd,extended_l2=on"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src := filepath.Join(dir, "src.qcow2")
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", src, "8M")
			patterns(t, src, 8<<20, 3)
			path := filepath.Join(dir, "c.qcow2")
			disktest.Output(t, "qemu-img", "convert", "-c", "-O", "qcow2", "-o", c.opts, src, path)
			// Rewrite part of a compressed cluster: it becomes a normal one.
			disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x77 4096 512", path)
			compareWithQemu(t, path, strings.Contains(c.opts, "zlib"))
		})
	}
}

func TestQemuBackingChain(t *testing.T) {
	for _, base := range []string{"raw", "qcow2"} {
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			b := filepath.Join(dir, "base."+base)
			// The base is smaller than its children: past its end reads as zeros.
			disktest.Output(t, "qemu-img", "create", "-q", "-f", base, b, "6M")
			disktest.Output(t, "qemu-io", "-f", base, "-c", "write -P 0xb1 0 6M", b)
			mid := filepath.Join(dir, "mid.qcow2")
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base."+base, "-F", base, mid, "8M")
			patterns(t, mid, 8<<20, 1)
			top := filepath.Join(dir, "top.qcow2")
			// No backing format: the reader probes the magic.
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "mid.qcow2", "-F", "qcow2", top, "8M")
			disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0xc3 100000 20000", "-c", "write -z 3145728 4096", top)
			compareWithQemu(t, top, false)
			img := openImage(t, top)
			d, err := OpenChain(img, top, dirResolver(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			var roles []string
			for _, l := range d.Layers() {
				roles = append(roles, string(l.Role)+":"+l.Format)
			}
			if want := "image:qcow2 backing:qcow2 backing:" + base; strings.Join(roles, " ") != want {
				t.Errorf("layers %v, want %s", roles, want)
			}
		})
	}
}

func TestQemuSnapshots(t *testing.T) {
	for _, compat := range []string{"1.1", "0.10"} {
		t.Run(compat, func(t *testing.T) {
			t.Parallel()
			// Version 3 images grow after the snapshots; QEMU cannot resize
			// version 2 images that have snapshots.
			grow := compat == "1.1"
			path := filepath.Join(t.TempDir(), "s.qcow2")
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat="+compat, path, "8M")
			patterns(t, path, 8<<20, 0)
			disktest.Output(t, "qemu-img", "snapshot", "-c", "first", path)
			patterns(t, path, 8<<20, 5)
			disktest.Output(t, "qemu-img", "snapshot", "-c", "second", path)
			size := int64(8 << 20)
			if grow {
				size = 12 << 20
				disktest.Output(t, "qemu-img", "resize", "-q", path, fmt.Sprint(size))
			}
			patterns(t, path, size, 9)
			compareWithQemu(t, path, true)
			img := openImage(t, path)
			if len(img.Snapshots) != 2 {
				t.Fatalf("%d snapshots, want 2", len(img.Snapshots))
			}
			for _, s := range img.Snapshots {
				d, err := OpenChainSnapshot(img, path, s.Name, nil)
				if err != nil {
					t.Fatal(err)
				}
				// qemu-img gives the current disk size: past the
				// snapshot's own size it reads zeros.
				want := qemuRaw(t, path, "-l", "snapshot.name="+s.Name)
				if d.Size() != 8<<20 || int64(len(want)) != size || !bytes.Equal(want[8<<20:], make([]byte, size-8<<20)) {
					t.Fatalf("snapshot %s: size %d, qemu-img's %d", s.Name, d.Size(), len(want))
				}
				disktest.SameBytes(t, "snapshot "+s.Name, diskBytes(t, d), want[:8<<20])
			}
		})
	}
}

// TestQemuBackingWithDataFile reads a chain whose middle image keeps its
// data in an external data file: top -> mid (+ mid.data) -> base.raw.
func TestQemuBackingWithDataFile(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "raw", base, "4M")
	disktest.Output(t, "qemu-io", "-f", "raw", "-c", "write -P 9 0 4M", base)
	mid := filepath.Join(dir, "mid.qcow2")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "mid.data"), "-b", "base.raw", "-F", "raw", mid, "4M")
	disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 5 1M 64k", "-c", "write -z 3M 64k", mid)
	top := filepath.Join(dir, "top.qcow2")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top, "4M")
	disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 3 2M 4k", top)
	compareWithQemu(t, top, false)
	d, err := OpenChain(openImage(t, top), top, dirResolver(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, l := range d.Layers() {
		roles = append(roles, string(l.Role))
	}
	if got := strings.Join(roles, ","); got != "image,backing,data file,backing" {
		t.Errorf("layers %s", got)
	}
}
