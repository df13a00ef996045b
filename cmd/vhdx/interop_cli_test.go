// Interoperability of the writing commands with independent
// implementations: QEMU (qemu-img, qemu-io) writes to images the CLI made
// and wrote, and the CLI writes to images QEMU made and wrote, each then
// read by both; libvhdi (Debian's python3-libvhdi) reads every level of a
// differencing chain the CLI built. Tests skip, saying why, when a tool is
// missing.
package main_test

import (
	"encoding/json"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// skipWithoutQEMU skips the test unless qemu-img and qemu-io are on PATH.
func skipWithoutQEMU(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"qemu-img", "qemu-io"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: install qemu-utils (build/setup.sh does) to cross-check against QEMU", tool)
		}
	}
}

// requireQEMURaw requires `qemu-img convert -O raw` of the VHDX at path to
// give exactly want.
func requireQEMURaw(t *testing.T, path string, want []byte) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "qemu.raw")
	runTool(t, "qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, raw)
	got, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d := disktest.Diff(got, want); d != "" {
		t.Fatalf("qemu-img convert of %s differs from the model: %s", filepath.Base(path), d)
	}
}

// qemuFill is a qemu-io write: pattern bytes, or zeros with write -z when
// pattern is 0.
type qemuFill struct {
	off, n  int64
	pattern byte
}

// qemuWrite runs the fills with one qemu-io and applies them to m.
func (m *diskModel) qemuWrite(t *testing.T, fills ...qemuFill) {
	t.Helper()
	args := []string{"-f", "vhdx"}
	for _, f := range fills {
		if f.pattern == 0 {
			args = append(args, "-c", fmt.Sprintf("write -z %d %d", f.off, f.n))
		} else {
			args = append(args, "-c", fmt.Sprintf("write -P 0x%02x %d %d", f.pattern, f.off, f.n))
		}
	}
	out := runTool(t, "qemu-io", append(args, m.path)...)
	if strings.Contains(string(out), "error") || strings.Contains(string(out), "failed") {
		t.Fatalf("qemu-io %s:\n%s", strings.Join(args, " "), out)
	}
	for _, f := range fills {
		for i := f.off; i < f.off+f.n; i++ {
			m.data[i] = f.pattern
		}
	}
}

// requireReadersAgree: our cat and qemu-img convert both read the model;
// our check and qemu-img check find nothing wrong.
func requireReadersAgree(t *testing.T, m *diskModel) {
	t.Helper()
	requireCat(t, m.path, m.data)
	requireQEMURaw(t, m.path, m.data)
	requireClean(t, m.path)
	runTool(t, "qemu-img", "check", "-f", "vhdx", m.path)
}

// TestInteropQEMUWritesAfterOurs: the CLI creates and writes an image,
// qemu-io writes over it (into blocks we allocated, blocks nobody did, and
// across block boundaries), then the CLI writes again over QEMU's data.
// After each round both readers give the model.
func TestInteropQEMUWritesAfterOurs(t *testing.T) {
	skipWithoutQEMU(t)
	for _, c := range []struct {
		name  string
		flags []string
		size  int64
	}{
		{"dynamic-1M", []string{"--block-size", "1M"}, 6*MiB + 512},
		{"fixed-1M", []string{"--fixed", "--block-size", "1M"}, 4*MiB + 512},
		{"dynamic-32M", nil, 40 * MiB},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := &diskModel{path: filepath.Join(t.TempDir(), "ours.vhdx"), data: make([]byte, c.size), rng: newRand(uint64(c.size))}
			mustSucceed(t, append(append([]string{"create"}, c.flags...), m.path, fmt.Sprint(c.size))...)
			m.write(t, cliWrite{off: 1000, n: 5000})
			m.write(t, cliWrite{off: MiB - 77, n: 1234})
			m.write(t, cliWrite{off: c.size - 3, n: 3})
			requireReadersAgree(t, m)

			m.qemuWrite(t,
				qemuFill{2048, 2048, 0x5a},        // inside our first write
				qemuFill{MiB - 512, 1024, 0x5a},   // across our boundary write
				qemuFill{3 * MiB, 64 << 10, 0x5a}, // where nobody wrote
				qemuFill{c.size - 512, 512, 0x5a}, // the last sector
			)
			requireReadersAgree(t, m)

			m.write(t, cliWrite{off: 3*MiB + 1000, n: 100}) // over QEMU's data
			m.write(t, cliWrite{off: 2*MiB - 5, n: 10})     // a block nobody wrote
			requireReadersAgree(t, m)
		})
	}
}

// TestInteropOursAfterQEMU: qemu-img creates an image, qemu-io writes
// patterns and zeroes a range (ZERO blocks with block_state_zero), the CLI
// writes over all kinds of blocks, and qemu-io writes once more. After each
// round both readers give the model.
func TestInteropOursAfterQEMU(t *testing.T) {
	skipWithoutQEMU(t)
	for _, c := range []struct {
		name, opts string
		size       int64
	}{
		{"dynamic-1M", "subformat=dynamic,block_size=1M", 6*MiB + 512},
		{"dynamic-2M-no-zero-state", "subformat=dynamic,block_size=2M,block_state_zero=off", 9 * MiB},
		{"fixed-1M", "subformat=fixed,block_size=1M", 5 * MiB},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := &diskModel{path: filepath.Join(t.TempDir(), "qemu.vhdx"), data: make([]byte, c.size), rng: newRand(uint64(c.size) + 1)}
			runTool(t, "qemu-img", "create", "-q", "-f", "vhdx", "-o", c.opts, m.path, fmt.Sprint(c.size))
			m.qemuWrite(t,
				qemuFill{0, 1536, 0x11},
				qemuFill{MiB - 4096, 8192, 0x22},
				qemuFill{3 * MiB, 4 * 4096, 0x33},
				qemuFill{2 * MiB, MiB, 0}, // a whole block of zeros
			)
			requireReadersAgree(t, m)

			m.write(t, cliWrite{off: 1000, n: 100})                 // inside QEMU's data
			m.write(t, cliWrite{off: MiB - 10, n: 20})              // across QEMU's boundary write
			m.write(t, cliWrite{off: 2*MiB + 4097, n: 3000})        // inside the zeroed block
			m.write(t, cliWrite{off: 4*MiB + 100, n: int(MiB / 2)}) // a block nobody wrote
			m.write(t, cliWrite{off: c.size - 700, n: 700})         // the end
			m.write(t, cliWrite{off: 3*MiB + 4096 + 1, n: 4096})    // over a pattern run, unaligned
			requireReadersAgree(t, m)

			m.qemuWrite(t, qemuFill{2*MiB + 4096, 512, 0x44}, qemuFill{4*MiB + 512, 1024, 0})
			requireReadersAgree(t, m)
		})
	}
}

// pyvhdiLevel is what libvhdi says about one image of a chain.
type pyvhdiLevel struct {
	Identifier       string  `json:"identifier"`
	ParentIdentifier *string `json:"parent_identifier"`
	MediaSize        int64   `json:"media_size"`
	Dump             string  `json:"dump"`
}

// pyvhdiScript opens the images named on the command line, base first,
// gives each the previous one as parent, dumps each whole virtual disk to
// DIR/level-N.raw and prints what libvhdi reports as JSON.
const pyvhdiScript = `
import json, sys, pyvhdi
out_dir, paths = sys.argv[1], sys.argv[2:]
files, report = [], []
for i, path in enumerate(paths):
    f = pyvhdi.file()
    f.open(path)
    if files:
        f.set_parent(files[-1])
    files.append(f)
    size = f.get_media_size()
    dump = "%s/level-%d.raw" % (out_dir, i)
    with open(dump, "wb") as o:
        off = 0
        while off < size:
            n = min(4 << 20, size - off)
            o.write(f.read_buffer_at_offset(n, off))
            off += n
    report.append({"identifier": f.get_identifier(), "parent_identifier": f.get_parent_identifier(),
                   "media_size": size, "dump": dump})
json.dump(report, sys.stdout)
`

// libvhdiPython is the interpreter with Debian's pyvhdi module: the system
// one, not whatever python3 comes first on PATH.
const libvhdiPython = "/usr/bin/python3"

// TestInteropLibvhdiReadsChain: libvhdi reads every level of a chain the
// CLI created and wrote exactly as our cat does, and agrees on the parent
// identifiers: each child's parent identifier is its parent's
// DataWriteGuid, which is our info's parent_linkage.
func TestInteropLibvhdiReadsChain(t *testing.T) {
	if err := exec.Command(libvhdiPython, "-c", "import pyvhdi").Run(); err != nil {
		t.Skipf("%s cannot import pyvhdi (%v): install python3-libvhdi (build/setup.sh does) to cross-check chains with libvhdi", libvhdiPython, err)
	}
	for _, ss := range []int64{512, 4096} {
		t.Run(fmt.Sprint(ss), func(t *testing.T) {
			t.Parallel()
			c := buildChain(t, ss, 1000+uint64(ss))
			var paths []string
			for _, l := range c.levels {
				paths = append(paths, l.path)
			}
			out := runTool(t, libvhdiPython, append([]string{"-c", pyvhdiScript, t.TempDir()}, paths...)...)
			var levels []pyvhdiLevel
			if err := json.Unmarshal(out, &levels); err != nil || len(levels) != len(c.levels) {
				t.Fatalf("pyvhdi script output (%v):\n%s", err, clip(out))
			}
			var parentData string
			for i, l := range c.levels {
				name := filepath.Base(l.path)
				ours := mustSucceed(t, "cat", l.path)
				theirs, err := os.ReadFile(levels[i].Dump)
				if err != nil {
					t.Fatal(err)
				}
				if d := disktest.Diff(theirs, ours); d != "" {
					t.Errorf("%s: libvhdi and our cat differ: %s", name, d)
				}
				if d := disktest.Diff(ours, l.model); d != "" {
					t.Errorf("%s: our cat differs from the model: %s", name, d)
				}
				info := infoOf(t, l.path)
				data := dataWriteGUID(t, info)
				if got := strings.ToLower(levels[i].Identifier); got != data {
					t.Errorf("%s: libvhdi identifier %s, our DataWriteGuid %s", name, got, data)
				}
				if i == 0 {
					if levels[i].ParentIdentifier != nil {
						t.Errorf("%s: libvhdi gives the base a parent identifier %s", name, *levels[i].ParentIdentifier)
					}
				} else {
					link := parentLinkage(t, info)
					got := "none"
					if levels[i].ParentIdentifier != nil {
						got = strings.ToLower(*levels[i].ParentIdentifier)
					}
					if got != link || link != parentData {
						t.Errorf("%s: libvhdi parent identifier %s, our parent_linkage %s, the parent's DataWriteGuid %s", name, got, link, parentData)
					}
				}
				parentData = data
			}
		})
	}
}
