package vhdx_test

import (
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// heapPeak samples the heap in use until stop is called and returns the
// highest value seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// BenchmarkOpen64TiB opens a sparse 64 TiB image of 1 MiB blocks (a 512 MiB
// BAT) and counts its block states, as `vhdx info` does. It reports the
// peak heap in use during the loop.
func BenchmarkOpen64TiB(b *testing.B) {
	im, _, _ := huge64TiB()
	path := writeSparseFile(b, b.TempDir(), im)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	size := im.Size()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := heapPeak()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := vhdx.Open(f, size)
		if err != nil {
			b.Fatal(err)
		}
		blocks, _, err := img.BAT.Counts()
		if err != nil || blocks[vhdx.FullyPresent] != 2 {
			b.Fatalf("Counts: %v %v", blocks, err)
		}
	}
	b.StopTimer()
	peak := stop()
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(peak-min(peak, base)), "peak-heap-growth-B")
}

// fullImage writes a fully allocated dynamic image with 32 MiB blocks of
// pseudo-random data and returns its path, the payload's file offset and
// the virtual size. Blocks are contiguous from the payload offset.
func fullImage(b *testing.B) (path string, payload, size int64) {
	const blocks = 8
	im := vb.New(vb.Options{VirtualSize: blocks * 32 * mib, BlockSize: 32 * mib, PhysicalSectorSize: 4096})
	for i := 0; i < blocks; i++ {
		im.SetBlock(i, vb.PayloadFullyPresent, pattern(32*mib, uint64(i)))
	}
	if im.Blocks[blocks-1].FileOffset != im.Blocks[0].FileOffset+(blocks-1)*32*mib {
		b.Fatal("blocks are not contiguous")
	}
	return writeSparseFile(b, b.TempDir(), im), int64(im.Blocks[0].FileOffset), blocks * 32 * mib
}

// BenchmarkDiskRead streams a fully allocated 256 MiB disk (32 MiB
// blocks) with WriteTo to io.Discard. Compare with BenchmarkRawRead.
func BenchmarkDiskRead(b *testing.B) {
	path, _, size := fullImage(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	img, err := vhdx.Open(f, st.Size())
	if err != nil {
		b.Fatal(err)
	}
	d, err := img.Disk()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := d.WriteTo(io.Discard); err != nil || n != size {
			b.Fatalf("WriteTo = %d, %v", n, err)
		}
	}
}

// BenchmarkRawRead reads the same payload bytes straight from the file with
// ReadAt into a 4 MiB buffer (WriteTo's buffer size): the ceiling for
// BenchmarkDiskRead in this process.
func BenchmarkRawRead(b *testing.B) {
	path, payload, size := fullImage(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4*mib)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := int64(0); off < size; off += int64(len(buf)) {
			if _, err := f.ReadAt(buf, payload+off); err != nil {
				b.Fatal(err)
			}
			io.Discard.Write(buf)
		}
	}
}
