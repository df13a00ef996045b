package qcow2

import (
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// hugeImage makes a 64 TiB qcow2 image with a few writes.
func hugeImage(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "x.qcow2")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", path, "64T")
	disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 1 0 64k", "-c", "write -P 2 32T 64k", "-c", "write -P 3 70368744112128 4096", path)
	return path
}

// TestHugeOpen opens a 64 TiB image and lists its fields without reading
// any L2 table: only the header cluster, the L1 and refcount tables.
func TestHugeOpen(t *testing.T) {
	path := hugeImage(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	cr := &countingReader{r: f}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	img, err := Open(cr, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	fields := img.Fields()
	runtime.ReadMemStats(&after)
	h := img.Header
	tables := int64(h.L1Size)*8 + int64(h.RefcountTableClusters)*h.ClusterSize()
	if got, limit := cr.n.Load(), tables+2*h.ClusterSize(); got > limit {
		t.Errorf("Open and Fields read %d bytes, want at most %d (tables %d)", got, limit, tables)
	}
	if img.l2Cache.loaded != 0 {
		t.Errorf("%d L2 tables read", img.l2Cache.loaded)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("Open and Fields allocated %d bytes", alloc)
	}
	if h.VirtualSize != 64<<40 || len(fields) == 0 {
		t.Errorf("size %d, %d fields", h.VirtualSize, len(fields))
	}
	// Reading one range reads one L2 table.
	d, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	if _, err := d.ReadAt(b, 32<<40); err != nil || b[0] != 2 {
		t.Fatalf("read at 32 TiB: %v, byte %d", err, b[0])
	}
	if img.l2Cache.loaded != 1 {
		t.Errorf("%d L2 tables read for one range", img.l2Cache.loaded)
	}
}

func BenchmarkHugeOpen(b *testing.B) {
	path := hugeImage(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.ReportAllocs()
	for b.Loop() {
		img, err := Open(f, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		img.Fields()
	}
}

// TestHugeExtents walks the extents of a 64 TiB image quickly: unallocated
// L1 entries are skipped whole.
func TestHugeExtents(t *testing.T) {
	img := openImage(t, hugeImage(t))
	d, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	var last Extent
	err = d.Extents(func(e Extent) error {
		if e.Start != last.Start+last.Length {
			t.Fatalf("extent at %d after %d+%d", e.Start, last.Start, last.Length)
		}
		if e.stored() {
			stored += e.Length
		}
		last = e
		return nil
	})
	if err != nil || last.Start+last.Length != d.Size() {
		t.Fatalf("Extents: %v, end %d", err, last.Start+last.Length)
	}
	// qemu-io wrote 64 KiB twice and 4 KiB in one 64 KiB cluster.
	if stored != 3*65536 {
		t.Errorf("%d bytes stored, want %d", stored, 3*65536)
	}
	if img.l2Cache.loaded != 3 {
		t.Errorf("%d L2 tables read, want 3", img.l2Cache.loaded)
	}
}
