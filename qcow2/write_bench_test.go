package qcow2_test

import (
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
)

// writeBenchCompressions are the sub-benchmarks, by qemu-img's names.
var writeBenchCompressions = []string{"none", "zlib", "zstd"}

// BenchmarkWriteImage writes 64 MiB held in memory, half random and half
// text, to io.Discard with 64 KiB clusters.
func BenchmarkWriteImage(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const half = 32 << 20
	src := &writeSource{size: 2 * half, chunks: []writeChunk{{0, writeRandom(r, half)}, {half, writeText(r, half)}}}
	for _, comp := range writeBenchCompressions {
		b.Run(comp, func(b *testing.B) {
			b.SetBytes(src.size)
			for b.Loop() {
				if _, err := qcow2.WriteImage(io.Discard, src, writeOpt(0, comp), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteImage64TiB writes a 64 TiB disk holding 32 MiB of text
// spread over 512 ranges 128 GiB apart, and reports the bytes allocated
// per image, a bound on the heap it needs: the writer holds neither the
// disk's L2 tables nor a map of all its clusters.
func BenchmarkWriteImage64TiB(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	src := &writeSource{size: 64 << 40}
	text := writeText(r, 64<<10)
	for i := range int64(512) {
		src.chunks = append(src.chunks, writeChunk{i << 37, text})
	}
	for _, comp := range writeBenchCompressions {
		b.Run(comp, func(b *testing.B) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if _, err := qcow2.WriteImage(io.Discard, src, writeOpt(0, comp), nil); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-alloc/op")
		})
	}
}
