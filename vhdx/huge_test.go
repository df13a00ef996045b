package vhdx_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// writeSparseFile writes im to a sparse file in dir and returns its path.
func writeSparseFile(tb testing.TB, dir string, im *vb.Image) string {
	tb.Helper()
	path := filepath.Join(dir, "image.vhdx")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := im.WriteSparse(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(im.Size()); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// huge64TiB returns the 64 TiB, 1 MiB-block image used by the test and the
// benchmark: block 0 and the last block present, one ZERO and one UNMAPPED
// block.
func huge64TiB() (im *vb.Image, first, last []byte) {
	im = vb.New(vb.Options{VirtualSize: 64 * tib})
	n := int(im.PayloadBlocks())
	first, last = pattern(4096, 1), pattern(mib, 2)
	im.SetBlock(0, vb.PayloadFullyPresent, first)
	im.SetBlock(n-1, vb.PayloadFullyPresent, last)
	im.SetBlock(n/2, vb.PayloadZero, nil)
	im.SetBlock(4096*3, vb.PayloadUnmapped, nil)
	return im, first, last
}

// TestHuge64TiB: opening a 64 TiB image reads a few MiB, not its 512 MiB
// BAT; the last block reads back; Counts counts 64 Mi blocks.
func TestHuge64TiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 517 MiB sparse file and reads its whole BAT")
	}
	im, first, last := huge64TiB()
	path := writeSparseFile(t, t.TempDir(), im)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := guard(t, f)
	img, err := vhdx.Open(g, im.Size())
	if err != nil {
		t.Fatal(err)
	}
	if read, maxRead := g.stats(); read >= 4*mib || maxRead > mib {
		t.Errorf("Open read %d bytes (largest read %d)", read, maxRead)
	}
	if img.BAT.EntryCount != 64*mib+16383 || img.BAT.Length != 513*mib {
		t.Errorf("BAT %+v", img.BAT)
	}
	d := mustDisk(t, img)
	if d.Size() != 64*tib {
		t.Fatalf("size %d", d.Size())
	}
	g.reset()
	if got := readRange(t, d, 64*tib-mib, mib); !bytes.Equal(got, last) {
		t.Errorf("last block: %s", firstDiff(got, last))
	}
	if got := readRange(t, d, 64*tib-1, 1); got[0] != last[mib-1] {
		t.Errorf("last byte %#x, want %#x", got[0], last[mib-1])
	}
	if got := readRange(t, d, 0, 8192); !bytes.Equal(got[:4096], first) || !isZeros(got[4096:]) {
		t.Errorf("first block")
	}
	if read, _ := g.stats(); read > 3*mib {
		t.Errorf("three reads cost %d bytes of I/O", read)
	}
	blocks, bitmaps, err := img.BAT.Counts()
	if err != nil {
		t.Fatal(err)
	}
	var wb, wbm vhdx.StateCounts
	wb[vhdx.FullyPresent], wb[vhdx.Zero], wb[vhdx.Unmapped] = 2, 1, 1
	wb[vhdx.NotPresent] = 64*mib - 4
	wbm[vhdx.NotPresent] = 16383
	if blocks != wb || bitmaps != wbm {
		t.Errorf("Counts = %v %v, want %v %v", blocks, bitmaps, wb, wbm)
	}
	wantCodes(t, img, codes{})
}

// TestConcurrentReads: eight goroutines reading one Disk (BAT pages evicted
// from the cache as they go, a replayed log in the path) see exactly what
// sequential reads saw. Run once with -race.
func TestConcurrentReads(t *testing.T) {
	// 600 GiB of 1 MiB blocks: 75 BAT pages of 8192 entries, more than the
	// engine caches. One present block per page.
	im := vb.New(vb.Options{VirtualSize: 600 * gib})
	m := &diskModel{size: 600 * gib}
	var present []int64
	for k := 0; k < 75; k++ {
		b := k*8192 + k%13
		data := pattern(64*kib, uint64(k))
		im.SetBlock(b, vb.PayloadFullyPresent, data)
		m.put(int64(b)*mib, data)
		present = append(present, int64(b))
	}
	logged := pattern(4096, 1000)
	e := vb.NewLogEntry(1)
	e.Writes = []vb.LogWrite{{FileOffset: im.Blocks[0].FileOffset + 32*kib, Data: logged}}
	im.AddLogEntry(e)
	m.put(32*kib, logged)
	img, _ := openImage(t, im)
	if img.Replay == nil {
		t.Fatal("log not replayed")
	}
	d := mustDisk(t, img)

	type rng struct {
		off int64
		n   int
	}
	r := rand.New(rand.NewPCG(7, 7))
	var ranges []rng
	for i := 0; i < 300; i++ {
		b := present[r.IntN(len(present))]
		off := b*mib + int64(r.IntN(mib)) - 32*kib
		ranges = append(ranges, rng{max(off, 0), 1 + r.IntN(128*kib)})
	}
	ref := make([][]byte, len(ranges))
	for i, x := range ranges {
		ref[i] = readRange(t, d, x.off, x.n)
		if want := m.expect(x.off, x.n); !bytes.Equal(ref[i], want) {
			t.Fatalf("sequential read %d at %d: %s", i, x.off, firstDiff(ref[i], want))
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			order := rand.New(rand.NewPCG(uint64(w), 1)).Perm(len(ranges))
			for _, i := range order {
				p := make([]byte, ranges[i].n)
				if n, err := d.ReadAt(p, ranges[i].off); err != nil || n != len(p) || !bytes.Equal(p, ref[i]) {
					t.Errorf("goroutine %d, read %d: %d, %v, %s", w, i, n, err, firstDiff(p, ref[i]))
					return
				}
			}
		}(w)
	}
	wg.Wait()
}
