package vhdx_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/hostile"
	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// allocated returns the bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// floodedLog returns an image whose logSize-byte log has an entry header
// claiming claim bytes in each of its first n 4 KiB sectors, with a log
// GUID in the headers (replay needed).
func floodedLog(t testing.TB, logSize, claim uint32, n int) *vb.SparseFile {
	t.Helper()
	im := vb.New(vb.Options{LogSize: logSize})
	im.Headers[0].LogGUID, im.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
	f := buildSparse(t, im)
	if err := hostile.FloodLog(f, im, claim, n); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLogScanIsLinear: a log in which every sector starts an entry that
// claims the whole log costs reads linear in the log's length (it cost the
// square: 16 MiB took 34 s in every read command).
func TestLogScanIsLinear(t *testing.T) {
	read := map[uint32]int64{}
	for _, size := range []uint32{4 * mib, 16 * mib} {
		f := floodedLog(t, size, size, int(size/vb.LogSectorSize))
		g := guard(t, f)
		img, err := vhdx.Open(g, f.Size())
		if err != nil {
			t.Fatal(err)
		}
		img.Check()
		read[size], _ = g.stats()
		if n := len(img.Log.Entries); n != int(size/vb.LogSectorSize) {
			t.Fatalf("%d entries, want one per sector", n)
		}
		for _, e := range img.Log.Entries[:len(img.Log.Entries)-1] {
			if e.Valid || e.Problem == "" {
				t.Fatalf("entry %#x valid", e.Offset)
			}
		}
		if read[size] > 2*int64(size)+8*mib {
			t.Errorf("%d-byte log: %d bytes read, more than twice the log plus the other structures", size, read[size])
		}
	}
	if r := float64(read[16*mib]) / float64(read[4*mib]); r > 4.5 {
		t.Errorf("a log 4 times longer costs %.1f times the reads", r)
	}
}

// TestLogEntryClaimAllocatesNothing: an entry claiming 1 GiB in a 1 GiB log
// is streamed: opening and checking allocate a few MiB, not the claim (it
// took 2.1 GB).
func TestLogEntryClaimAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a 1 GiB sparse log")
	}
	sf := floodedLog(t, 1<<30, 1<<30, 1)
	var img *vhdx.Image
	n := allocated(func() {
		var err error
		if img, err = vhdx.Open(sf, sf.Size()); err != nil {
			t.Fatal(err)
		}
		img.Check()
	})
	if n > 32*mib {
		t.Errorf("Open and Check allocated %d bytes for an entry claiming 1 GiB", n)
	}
	if len(img.Log.Entries) != 1 || img.Log.Entries[0].Valid {
		t.Fatalf("entries %+v", img.Log.Entries)
	}
	wantCodes(t, img, codes{"log.entry_invalid": sevW, "log.unusable": sevW})
}

// wantRefused opens f for writing and wants a refusal naming code, with
// the file's bytes unchanged.
func wantRefused(t *testing.T, f *vb.SparseFile, code string) {
	t.Helper()
	before, size := f.Hash(), f.Size()
	w, err := vhdx.OpenWriter(f, size)
	var re *vhdx.RefusalError
	if !errors.As(err, &re) || !errors.Is(err, vhdx.ErrUnsafeToWrite) || re.Finding.Code != code {
		if w != nil {
			w.Close()
		}
		t.Fatalf("OpenWriter: %v, want a refusal with %s", err, code)
	}
	if f.Hash() != before || f.Size() != size {
		t.Errorf("the refused file changed")
	}
}

// TestLogTargetsAreValidated: a replayed log that writes into the header
// section, over the log itself or beyond any plausible file end is an
// error for Check, is not replayed in memory, and OpenWriter refuses it
// without writing (it replayed over the file type identifier, then panicked).
func TestLogTargetsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(im *vb.Image) uint64
		code   string
	}{
		{"header", func(*vb.Image) uint64 { return 0 }, "log.target_header"},
		{"header_end", func(*vb.Image) uint64 { return mib - 4*kib }, "log.target_header"},
		{"log", func(im *vb.Image) uint64 { return im.LogOffset + 4*kib }, "log.target_log"},
		{"beyond", func(*vb.Image) uint64 { return 1 << 50 }, "log.target_beyond_eof"},
		{"wraps", func(*vb.Image) uint64 { return 1<<64 - 4*kib }, "log.target_beyond_eof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := vb.New(vb.Options{})
			e := vb.NewLogEntry(1)
			e.Writes = []vb.LogWrite{{FileOffset: tc.target(im), Data: pattern(4*kib, 1)}}
			if tc.name == "wraps" {
				e.Writes = nil
				e.Zeros = []vb.LogZero{{FileOffset: 2 * mib, Length: 1<<64 - 2*mib}}
				e.LastFileOffset = uint64(im.Size())
			}
			im.AddLogEntry(e)
			img, f := openImage(t, im)
			if img.Replay != nil {
				t.Errorf("an unsafe log was replayed in memory")
			}
			got := findingCodes(img)
			if got[tc.code] != sevE || got["log.replay_refused"] != sevE {
				t.Errorf("Check codes %v, want %s and log.replay_refused errors", got, tc.code)
			}
			if img.Identifier.Signature != "vhdxfile" {
				t.Errorf("identifier %q", img.Identifier.Signature)
			}
			wantRefused(t, f, tc.code)
		})
	}
}

// TestWriterRefusesOverlaps: a BAT entry or sector bitmap that lands on
// another structure, another block or beyond the file's end stops every
// write before anything is written (a write through a BAT entry into the
// metadata exited 0 and overwrote the metadata table).
func TestWriterRefusesOverlaps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent bool
		set    func(im *vb.Image)
		code   string
	}{
		{"into_metadata", false, func(im *vb.Image) {
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, im.MetadataOffset)}
		}, "bat.overlap_structure"},
		{"into_bat", false, func(im *vb.Image) {
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, im.BATOffset)}
		}, "bat.overlap_structure"},
		{"into_log", false, func(im *vb.Image) {
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, im.LogOffset)}
		}, "bat.overlap_structure"},
		{"into_header", false, func(im *vb.Image) {
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, 0)}
		}, "bat.offset_invalid"},
		{"duplicate", false, func(im *vb.Image) {
			im.SetBlock(0, vb.PayloadFullyPresent, pattern(mib, 2))
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(3): vb.EncodeBATEntry(vb.PayloadFullyPresent, im.Block(0).FileOffset)}
		}, "bat.overlap_block"},
		{"beyond_eof", false, func(im *vb.Image) {
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, 1<<40)}
		}, "bat.beyond_eof"},
		{"negative_offset", false, func(im *vb.Image) {
			im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): 0xFFFFF<<44 | uint64(vb.PayloadFullyPresent)}
		}, "bat.beyond_eof"},
		{"bitmap_into_bat", true, func(im *vb.Image) {
			im.SetBlock(0, vb.PayloadPartiallyPresent, pattern(mib, 3))
			im.MarkSectorsPresent(0, 8)
			im.BATOverride = map[int]uint64{im.BitmapBATIndex(0): vb.EncodeBATEntry(vb.SectorBitmapPresent, im.BATOffset)}
		}, "bat.overlap_structure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := vb.New(vb.Options{HasParent: tc.parent})
			tc.set(im)
			img, f := openImage(t, im)
			if got := findingCodes(img); got[tc.code] != sevE {
				t.Errorf("Check codes %v, want %s", got, tc.code)
			}
			wantRefused(t, f, tc.code)
		})
	}
}

// TestWriterRefusesLogBeyond2e64: a header log offset near 2^64 wrapped the
// bounds check, and a write failed half-done.
func TestWriterRefusesLogBeyond2e64(t *testing.T) {
	im := vb.New(vb.Options{})
	im.Headers[1].LogOffset = 1<<64 - mib
	img, f := openImage(t, im)
	if got := findingCodes(img); got["header.log_bounds"] != sevE {
		t.Errorf("Check codes %v, want header.log_bounds", got)
	}
	before := f.Hash()
	if _, err := vhdx.OpenWriter(f, f.Size()); err == nil {
		t.Fatal("OpenWriter accepted a log at 2^64 - 1 MiB")
	}
	if f.Hash() != before {
		t.Errorf("the refused file changed")
	}
}
