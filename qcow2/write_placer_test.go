package qcow2

import "testing"

// TestWriterPlacer packs compressed clusters byte after byte, aligns plain
// ones, and starts a fresh host cluster rather than take a shared one's
// refcount past 16 bits (QEMU's compressors cannot make clusters small
// enough to reach it, so no image test does).
func TestWriterPlacer(t *testing.T) {
	const cs = 512
	p := newWriterPlacer(cs)
	for i, tc := range []struct{ size, at int64 }{
		{100, 0},
		{500, 100},     // reaches into the second cluster, which it is the first to use
		{cs, 1024},     // plain: aligned
		{cs - 1, 1536}, // a fresh cluster
		{1, 2047},      // fills it: 2 compressed clusters share it
		{3, 2048},
	} {
		if at := p.place(tc.size); at != tc.at {
			t.Fatalf("cluster %d of %d bytes placed at %d, want %d", i, tc.size, at, tc.at)
		}
	}
	if p.clusters() != 5 {
		t.Fatalf("%d host clusters, want 5", p.clusters())
	}
	p = newWriterPlacer(2 << 20)
	for i := range writerMaxRefcount {
		if at := p.place(2); at != int64(2*i) {
			t.Fatalf("compressed cluster %d placed at %d, want %d", i, at, 2*i)
		}
	}
	if at := p.place(2); at != 2<<20 {
		t.Fatalf("compressed cluster %d placed at %d, want the next cluster", writerMaxRefcount, at)
	}
}
