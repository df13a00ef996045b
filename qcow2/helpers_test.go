package qcow2

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// openImage opens the qcow2 file at path.
func openImage(t testing.TB, path string) *Image {
	t.Helper()
	f, size := disktest.Open(t, path)
	img, err := Open(f, size)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return img
}

// dirResolver finds references as files named relative to dir (or absolute).
func dirResolver(t testing.TB, dir string) Resolver {
	return func(from string, ref Reference) (io.ReaderAt, int64, string, error) {
		p := ref.Name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, 0, "", errors.Join(ErrBackingNotFound, err)
		}
		t.Cleanup(func() { f.Close() })
		st, err := f.Stat()
		if err != nil {
			return nil, 0, "", err
		}
		return f, st.Size(), filepath.Clean(p), nil
	}
}

// diskBytes reads a whole disk through WriteTo.
func diskBytes(t testing.TB, d *Disk) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := d.WriteTo(&buf)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != d.Size() {
		t.Fatalf("WriteTo wrote %d bytes of %d", n, d.Size())
	}
	return buf.Bytes()
}

// qemuRaw is what qemu-img convert -O raw makes of path, with extra
// arguments such as -l snapshot.name=NAME.
func qemuRaw(t testing.TB, path string, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "qemu.raw")
	args := append([]string{"convert", "-f", "qcow2", "-O", "raw"}, extra...)
	disktest.Output(t, "qemu-img", append(args, path, out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// qemuCheck is the JSON qemu-img check prints for path.
type qemuCheck struct {
	Leaks       int64 `json:"leaks"`
	Corruptions int64 `json:"corruptions"`
	CheckErrors int64 `json:"check-errors"`
}

func runQemuCheck(t testing.TB, path string) qemuCheck {
	t.Helper()
	return runQemuCheckArgs(t, path)
}

// runQemuCheckArgs is runQemuCheck with qemu-img check's arguments after
// --output=json, the image last.
func runQemuCheckArgs(t testing.TB, args ...string) qemuCheck {
	t.Helper()
	path := args[len(args)-1]
	cmd := exec.Command("qemu-img", append([]string{"check", "--output=json"}, args...)...)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) { // exit status 2 or 3 reports problems
		t.Fatalf("qemu-img check %s: %v", path, err)
	}
	var c qemuCheck
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("qemu-img check %s: %v: %s", path, err, out)
	}
	return c
}

// qemuMapEntry is one entry of qemu-img map --output=json.
type qemuMapEntry struct {
	Start   int64  `json:"start"`
	Length  int64  `json:"length"`
	Depth   int    `json:"depth"`
	Present bool   `json:"present"`
	Zero    bool   `json:"zero"`
	Data    bool   `json:"data"`
	Offset  *int64 `json:"offset"`
}

// compareMap checks Runs against qemu-img map: the same ranges hold data,
// from the same layer of the chain, at the same file offsets.
func compareMap(t *testing.T, path string, d *Disk) {
	t.Helper()
	var entries []qemuMapEntry
	if err := json.Unmarshal(disktest.Output(t, "qemu-img", "map", "--output=json", path), &entries); err != nil {
		t.Fatal(err)
	}
	level := func(layer int) int {
		for k, lv := range d.levels {
			if lv.layer == layer || lv.dataLayer == layer {
				return k
			}
		}
		return -1
	}
	for _, q := range entries {
		err := d.Runs(q.Start, q.Length, func(e Extent) error {
			switch {
			case e.stored() != q.Data:
				t.Errorf("map at %d+%d: kind %s, qemu-img data=%v", e.Start, e.Length, e.Kind, q.Data)
			case q.Present && level(e.Layer) != q.Depth:
				t.Errorf("map at %d+%d: layer %d, qemu-img depth %d", e.Start, e.Length, e.Layer, q.Depth)
			case e.Kind == Normal && q.Offset != nil && e.FileOffset != *q.Offset+e.Start-q.Start:
				t.Errorf("map at %d+%d: file offset %d, qemu-img %d", e.Start, e.Length, e.FileOffset, *q.Offset+e.Start-q.Start)
			default:
				return nil
			}
			return errors.New("stop")
		})
		if err != nil {
			return
		}
	}
}
