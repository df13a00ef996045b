package qcow2

import (
	"bytes"
	"sync"
	"testing"
)

// TestConcurrentReads reads every fixture from several goroutines at
// once, in odd-sized pieces that split compressed clusters and
// subclusters, and compares with one sequential read.
func TestConcurrentReads(t *testing.T) {
	for name, b := range fixtures(t) {
		img, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Disk()
		if err != nil {
			t.Fatal(err)
		}
		want := diskBytes(t, d)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				piece := int64(1000 + 777*g)
				buf := make([]byte, piece)
				for off := int64(g * 100); off < d.Size(); off += piece {
					n, _ := d.ReadAt(buf, off)
					if !bytes.Equal(buf[:n], want[off:off+int64(n)]) || n == 0 {
						t.Errorf("%s: read at %d differs", name, off)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
