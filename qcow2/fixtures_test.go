package qcow2

import (
	"bytes"
	"compress/gzip"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureDir holds small qemu-made images, gzip'd, with a README saying
// how each was made.
const fixtureDir = "../testdata/qcow2"

// fixtures returns every fixture image's name and bytes.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.qcow2.gz"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".gz")] = b
	}
	return out
}

// TestFixtures reads every fixture and compares it with qemu-img convert.
func TestFixtures(t *testing.T) {
	for name, b := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			img, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			d, err := img.Disk()
			if err != nil {
				t.Fatal(err)
			}
			disktest.SameBytes(t, name, diskBytes(t, d), qemuRaw(t, path))
			for _, s := range img.Snapshots {
				sd, err := OpenChainSnapshot(img, name, s.ID, nil)
				if err != nil {
					t.Fatal(err)
				}
				disktest.SameBytes(t, name+" snapshot "+s.Name, diskBytes(t, sd), qemuRaw(t, path, "-l", "snapshot.name="+s.Name))
			}
			if q, rep := runQemuCheck(t, path), img.CheckReport(); q.Leaks != rep.Leaks || q.Corruptions != rep.Corruptions {
				t.Errorf("check %+v, qemu-img %+v", rep, q)
			}
		})
	}
}
