package vhdx

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// wtWorkload writes n random sector-aligned ranges (some spanning blocks,
// some whole blocks, some overwriting earlier ones) through w and into the
// model.
func wtWorkload(t testing.TB, w *Writer, model []byte, lss, blockSize int64, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	size := int64(len(model))
	for i := 0; i < n; i++ {
		var off, length int64
		switch r.IntN(4) {
		case 0: // a few sectors
			length = lss * (1 + r.Int64N(16))
		case 1: // across a block boundary
			before, after := lss*(1+r.Int64N(64*kib/lss)), lss*(1+r.Int64N(64*kib/lss))
			if blockSize <= 4*mib {
				after = lss * (1 + r.Int64N(2*blockSize/lss))
			}
			off, length = (1+r.Int64N(max(size/blockSize, 1)))*blockSize-before, before+after
		case 2: // one whole block (small blocks) or its first MiB
			off, length = r.Int64N(size/blockSize+1)*blockSize, min(blockSize, 2*mib)
		default: // up to 64 KiB
			length = lss * (1 + r.Int64N(64*kib/lss))
		}
		length = min(length, size)
		if off <= 0 || off+length > size {
			off = r.Int64N((size-length)/lss+1) * lss
		}
		p := wtPattern(int(length), seed*1000+uint64(i))
		if n, err := w.WriteAt(p, off); err != nil || n != len(p) {
			t.Fatalf("write %d (%d bytes at %d): %d, %v", i, length, off, n, err)
		}
		copy(model[off:], p)
	}
}

// wtDiskReader reads the virtual disk of img (a non-differencing disk, or a
// chain through parents).
func wtDiskReader(img *Image, parents ...*Image) func([]byte, int64) error {
	return wtChain(append([]*Image{img}, parents...)...)
}

func TestWriterRoundTrip(t *testing.T) {
	for _, opt := range wtGeometries {
		if opt.VirtualSize > 8*gib {
			continue
		}
		opt := opt
		if opt.VirtualSize > 400*mib {
			// Keep the block size, bound the disk the model mirrors.
			opt.VirtualSize = 2*uint64(opt.BlockSize) + 64*kib
		}
		t.Run(fmt.Sprintf("%d-%d-%d-fixed=%t", opt.VirtualSize, opt.BlockSize, opt.LogicalSectorSize, opt.Fixed), func(t *testing.T) {
			t.Parallel()
			f := wtCreate(t, opt)
			img := wtOpen(t, f)
			m := img.Metadata
			lss, bs := int64(m.LogicalSectorSize), int64(m.BlockSize)
			model := make([]byte, m.VirtualSize)
			for session := 0; session < 3; session++ {
				w, err := OpenWriter(f, f.Size())
				if err != nil {
					t.Fatal(err)
				}
				wtWorkload(t, w, model, lss, bs, 40, uint64(session+1))
				// The writer's view reflects the writes before Close.
				live := w.Image()
				wtClean(t, live, "log.replay_needed", "log.entry_invalid")
				wtCompare(t, wtDiskReader(live), model)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				img := wtOpen(t, f)
				wtClean(t, img)
				if h := img.CurrentHeader(); h.LogGUID != uuid.Nil {
					t.Errorf("log GUID %s after Close", h.LogGUID)
				}
				if img.Replay != nil {
					t.Errorf("replay after Close: %+v", img.Replay)
				}
				wtCompare(t, wtDiskReader(img), model)
				if opt.Fixed && f.Size() != img.BAT.Offset+img.BAT.Length+int64(m.BlockCount())*bs {
					t.Errorf("a fixed image grew to %d bytes", f.Size())
				}
				if _, err := w.WriteAt(make([]byte, lss), 0); !errors.Is(err, ErrWriterClosed) {
					t.Errorf("write after Close: %v", err)
				}
			}
		})
	}
}

// TestWriterHeaders follows the header protocol: no change before the
// first write, new FileWriteGuid and DataWriteGuid on both headers then, a
// log GUID while the log is in use, and a clean header after Close.
func TestWriterHeaders(t *testing.T) {
	f := wtCreate(t, CreateOptions{VirtualSize: 64 * mib, BlockSize: 1 * mib})
	before := wtOpen(t, f).CurrentHeader()
	w, err := OpenWriter(f, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	if h := w.Image().CurrentHeader(); *h != *before {
		t.Errorf("OpenWriter changed the header: %+v", h)
	}
	if _, err := w.WriteAt(wtPattern(4096, 1), 8192); err != nil {
		t.Fatal(err)
	}
	img := w.Image()
	h0, h1 := img.Headers[0], img.Headers[1]
	h := img.CurrentHeader()
	switch {
	case h.FileWriteGUID == before.FileWriteGUID || h.DataWriteGUID == before.DataWriteGUID:
		t.Errorf("GUIDs not renewed: %+v", h)
	case h.LogGUID == uuid.Nil:
		t.Errorf("log GUID zero while the log is in use")
	case h0.FileWriteGUID != h1.FileWriteGUID || h0.DataWriteGUID != h1.DataWriteGUID || h0.LogGUID != h1.LogGUID:
		t.Errorf("headers differ after the first update: %+v %+v", h0, h1)
	case h.SequenceNumber != before.SequenceNumber+2:
		t.Errorf("sequence %d, want %d (both headers updated)", h.SequenceNumber, before.SequenceNumber+2)
	}
	if len(img.Log.Active) != 1 || img.Log.Entries[img.Log.Active[0]].SequenceNumber != 1 {
		t.Errorf("log %+v", img.Log)
	}
	dataWrite := h.DataWriteGUID
	if _, err := w.WriteAt(wtPattern(4096, 2), 3*mib); err != nil {
		t.Fatal(err)
	}
	if h2 := w.Image().CurrentHeader(); h2.SequenceNumber != h.SequenceNumber || h2.DataWriteGUID != dataWrite {
		t.Errorf("second write changed the header: %+v", h2)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	img = wtOpen(t, f)
	for _, h := range img.Headers {
		if h.LogGUID != uuid.Nil || h.DataWriteGUID != dataWrite {
			t.Errorf("header after Close %+v", h)
		}
	}
	// A session without writes leaves the file untouched.
	b := f.Bytes()
	w, err = OpenWriter(f, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	w.Image()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if string(b) != string(f.Bytes()) {
		t.Errorf("an idle session changed the file")
	}
}

func TestWriterErrors(t *testing.T) {
	for _, lss := range []uint32{512, 4096} {
		f := wtCreate(t, CreateOptions{VirtualSize: 8 * mib, LogicalSectorSize: lss})
		w, err := OpenWriter(f, f.Size())
		if err != nil {
			t.Fatal(err)
		}
		var ae *AlignmentError
		for _, c := range []struct {
			off int64
			n   int
		}{{1, int(lss)}, {int64(lss), 100}, {int64(lss) / 2, int(lss)}, {0, int(lss) + 512*int(lss/4096)}} {
			if c.n%int(lss) == 0 && c.off%int64(lss) == 0 {
				continue
			}
			_, err := w.WriteAt(make([]byte, c.n), c.off)
			if !errors.As(err, &ae) || !errors.Is(err, ErrWriteAlignment) || ae.SectorSize != lss {
				t.Errorf("WriteAt(%d bytes at %d) = %v, want an AlignmentError", c.n, c.off, err)
			}
		}
		for _, off := range []int64{8 * mib, 8*mib - int64(lss), -int64(lss)} {
			if _, err := w.WriteAt(make([]byte, 2*lss), off); !errors.Is(err, ErrBeyondEnd) {
				t.Errorf("WriteAt at %d = %v, want ErrBeyondEnd", off, err)
			}
		}
		if n, err := w.WriteAt(nil, 8*mib); n != 0 || err != nil {
			t.Errorf("empty write at the end: %d, %v", n, err)
		}
		if w.modified {
			t.Errorf("rejected writes modified the file")
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); !errors.Is(err, ErrWriterClosed) {
			t.Errorf("second Close: %v", err)
		}
	}
	// Not a VHDX; a size that hides part of the file.
	if _, err := OpenWriter(newWTFile(), 0); !errors.Is(err, ErrNotVHDX) {
		t.Errorf("OpenWriter of an empty file: %v", err)
	}
	f := wtCreate(t, CreateOptions{VirtualSize: 8 * mib})
	if _, err := OpenWriter(f, f.Size()-mib); err == nil {
		t.Errorf("OpenWriter with a short size succeeded")
	}
}

// wtFailFile fails every operation after a budget of successful ones.
type wtFailFile struct {
	*wtFile
	budget int
}

var errWTInjected = errors.New("injected I/O error")

func (f *wtFailFile) spend() error {
	if f.budget <= 0 {
		return errWTInjected
	}
	f.budget--
	return nil
}
func (f *wtFailFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.spend(); err != nil {
		return 0, err
	}
	return f.wtFile.WriteAt(p, off)
}
func (f *wtFailFile) Sync() error {
	if err := f.spend(); err != nil {
		return err
	}
	return f.wtFile.Sync()
}
func (f *wtFailFile) Truncate(n int64) error {
	if err := f.spend(); err != nil {
		return err
	}
	return f.wtFile.Truncate(n)
}

// TestWriterIOErrors: after a failed operation the Writer refuses further
// writes, Close reports the error without clearing the log, and the file
// still opens and reads old or new data.
func TestWriterIOErrors(t *testing.T) {
	base := wtCreate(t, CreateOptions{VirtualSize: 16 * mib, BlockSize: 1 * mib})
	p := wtPattern(8192, 3)
	for budget := 0; budget < 20; budget++ {
		ff := &wtFailFile{wtFile: base.Clone(), budget: budget}
		w, err := OpenWriter(ff, ff.Size())
		if err != nil {
			t.Fatal(err)
		}
		_, werr := w.WriteAt(p, 5*mib)
		if werr == nil {
			if err := w.Close(); err != nil && !errors.Is(err, errWTInjected) {
				t.Fatalf("budget %d: Close: %v", budget, err)
			}
		} else {
			if !errors.Is(werr, errWTInjected) {
				t.Fatalf("budget %d: %v", budget, werr)
			}
			if _, err := w.WriteAt(p, 0); !errors.Is(err, errWTInjected) {
				t.Errorf("budget %d: write after failure: %v", budget, err)
			}
			if err := w.Close(); !errors.Is(err, errWTInjected) {
				t.Errorf("budget %d: Close after failure: %v", budget, err)
			}
		}
		img := wtOpen(t, ff.wtFile)
		got := make([]byte, len(p))
		if err := wtRead(img, nil, got, 5*mib); err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		if !isZero(got) && string(got) != string(p) {
			t.Errorf("budget %d: neither old nor new data", budget)
		}
	}
}

// TestDifferencingWrites: writes into a child never copy the parent;
// unwritten sectors of allocated blocks keep reading from the parent,
// through a 3-level chain and several sessions.
func TestDifferencingWrites(t *testing.T) {
	for _, lss := range []uint32{512, 4096} {
		for _, bs := range []uint32{1 * mib, 32 * mib} {
			t.Run(fmt.Sprintf("%d-%d", lss, bs), func(t *testing.T) {
				t.Parallel()
				size := uint64(70*mib + 3*int64(lss))
				base := wtCreate(t, CreateOptions{VirtualSize: size, BlockSize: bs, LogicalSectorSize: lss})
				model := make([]byte, size)
				w, err := OpenWriter(base, base.Size())
				if err != nil {
					t.Fatal(err)
				}
				wtWorkload(t, w, model, int64(lss), int64(bs), 30, 11)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				chain := []*Image{wtOpen(t, base)}
				files := []*wtFile{base}
				for level := 1; level <= 2; level++ {
					cf := wtCreate(t, CreateOptions{Parent: &ParentInfo{Image: chain[0], RelativePath: fmt.Sprintf("level%d.vhdx", level-1)}})
					for session := 0; session < 2; session++ {
						w, err := OpenWriter(cf, cf.Size())
						if err != nil {
							t.Fatal(err)
						}
						wtWorkload(t, w, model, int64(lss), int64(bs), 30, uint64(100*level+session))
						// Whole-block writes become FULLY_PRESENT.
						whole := wtPattern(int(bs), uint64(level))
						at := int64(bs) * int64(level-1)
						if _, err := w.WriteAt(whole, at); err != nil {
							t.Fatal(err)
						}
						copy(model[at:], whole)
						live := w.Image()
						wtCompare(t, wtDiskReader(live, chain...), model)
						if err := w.Close(); err != nil {
							t.Fatal(err)
						}
						child := wtOpen(t, cf)
						wtClean(t, child)
						wtCompare(t, wtDiskReader(child, chain...), model)
						if e, _ := child.BAT.Block(uint64(level - 1)); e.State != FullyPresent {
							t.Errorf("whole-block write left block %d %s", level-1, e.State)
						}
						blocks, bitmaps, _ := child.BAT.Counts()
						if bs == mib && (blocks[PartiallyPresent] == 0 || bitmaps[SectorBitmapPresent] == 0) {
							t.Errorf("counts %v %v: expected partially present blocks", blocks, bitmaps)
						}
					}
					chain = append([]*Image{wtOpen(t, cf)}, chain...)
					files = append(files, cf)
				}
				_ = files
			})
		}
	}
}

// TestWriterLargeWrite: one WriteAt spanning more blocks than one log
// entry can describe commits in several entries and still reads back.
func TestWriterLargeWrite(t *testing.T) {
	for _, parent := range []bool{false, true} {
		f := wtCreate(t, CreateOptions{VirtualSize: 600 * mib, BlockSize: 1 * mib})
		var chain []*Image
		if parent {
			chain = []*Image{wtOpen(t, f)}
			f = wtCreate(t, CreateOptions{Parent: &ParentInfo{Image: chain[0], RelativePath: "p.vhdx"}})
		}
		w, err := OpenWriter(f, f.Size())
		if err != nil {
			t.Fatal(err)
		}
		model := make([]byte, 600*mib)
		p := wtPattern(580*mib, 5)
		if n, err := w.WriteAt(p, 512); err != nil || n != len(p) {
			t.Fatal(n, err)
		}
		copy(model[512:], p)
		entries := len(w.Image().Log.Entries)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		img := wtOpen(t, f)
		wtClean(t, img)
		wtCompare(t, wtDiskReader(img, chain...), model)
		t.Logf("parent=%t: %d log entries for one 580 MiB write", parent, entries)
		if entries < 2 {
			t.Errorf("expected the write to need several log entries, got %d", entries)
		}
	}
}

// TestWriterConcurrent: writes from several goroutines (and reads of the
// writer's view meanwhile) serialise correctly.
func TestWriterConcurrent(t *testing.T) {
	f := wtCreate(t, CreateOptions{VirtualSize: 64 * mib, BlockSize: 1 * mib})
	w, err := OpenWriter(f, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	model := make([]byte, 64*mib)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 16; i++ {
				off := int64(g*8+i/2)*mib + int64(i%2)*512*kib + 4096
				p := wtPattern(8192, uint64(g*100+i))
				if _, err := w.WriteAt(p, off); err != nil {
					t.Error(err)
					return
				}
				copy(model[off:], p)
				if i%4 == 0 {
					w.Image().Check()
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	img := wtOpen(t, f)
	wtClean(t, img)
	wtCompare(t, wtDiskReader(img), model)
}

func TestWriterFlush(t *testing.T) {
	f := wtCreate(t, CreateOptions{VirtualSize: 4 * mib, BlockSize: mib, Fixed: true})
	w, err := OpenWriter(f, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(bytes.Repeat([]byte{3}, 512), mib); err != nil { // in place: no log
		t.Fatal(err)
	}
	before := f.Syncs() // after the first write's header update, which syncs
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if f.Syncs() <= before {
		t.Fatalf("Flush did not sync the file (%d syncs before, %d after)", before, f.Syncs())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); !errors.Is(err, ErrWriterClosed) {
		t.Fatalf("Flush after Close = %v, want ErrWriterClosed", err)
	}
}
