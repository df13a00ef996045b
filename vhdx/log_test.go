package vhdx_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// dirtyFixture is an image whose log, when replayed, makes block 2 FULLY
// PRESENT (by rewriting the BAT sector), writes into block 2, zeroes part
// of block 1 and then writes inside the zeroed range.
type dirtyFixture struct {
	im      *vb.Image
	base1   []byte // block 1 as stored
	newOff  uint64 // file space of block 2, allocated but not in the BAT
	payload []byte // written at block 2 + 64 KiB by entry 10
	patch   []byte // written at block 1 + 136 KiB by entry 11
}

const (
	dirtyZeroAt  = 128 * kib // block 1 offset of the zeroed range
	dirtyZeroLen = 64 * kib
	dirtyPatchAt = 136 * kib // block 1 offset of entry 11's write
)

func newDirtyFixture() *dirtyFixture {
	fx := &dirtyFixture{base1: pattern(mib, 41), payload: pattern(8192, 42), patch: pattern(4096, 43)}
	im := vb.New(vb.Options{VirtualSize: 8 * mib})
	im.SetBlock(1, vb.PayloadFullyPresent, fx.base1)
	fx.newOff = im.Allocate(mib)
	clean := im.Bytes()
	batSector := bytes.Clone(clean[im.BATOffset : im.BATOffset+4096])
	binary.LittleEndian.PutUint64(batSector[8*2:], vb.EncodeBATEntry(vb.PayloadFullyPresent, fx.newOff))

	e10 := vb.NewLogEntry(10)
	e10.Zeros = []vb.LogZero{{FileOffset: im.Blocks[1].FileOffset + dirtyZeroAt, Length: dirtyZeroLen}}
	e10.Writes = []vb.LogWrite{{FileOffset: im.BATOffset, Data: batSector}, {FileOffset: fx.newOff + 64*kib, Data: fx.payload}}
	im.AddLogEntry(e10)
	e11 := vb.NewLogEntry(11)
	e11.Writes = []vb.LogWrite{{FileOffset: im.Blocks[1].FileOffset + dirtyPatchAt, Data: fx.patch}}
	im.AddLogEntry(e11)
	fx.im = im
	return fx
}

// want returns the virtual disk after replay.
func (fx *dirtyFixture) want() []byte {
	d := make([]byte, 8*mib)
	copy(d[mib:], fx.base1)
	clear(d[mib+dirtyZeroAt : mib+dirtyZeroAt+dirtyZeroLen])
	copy(d[mib+dirtyPatchAt:], fx.patch)
	copy(d[2*mib+64*kib:], fx.payload)
	return d
}

// wantOnDisk returns the virtual disk as stored, before replay.
func (fx *dirtyFixture) wantOnDisk() []byte {
	d := make([]byte, 8*mib)
	copy(d[mib:], fx.base1)
	return d
}

// TestLogReplay: a dirty log with data and zero descriptors is replayed in
// memory, the on-disk view stays available, the changes are listed, and
// the source is only ever read.
func TestLogReplay(t *testing.T) {
	fx := newDirtyFixture()
	f := buildSparse(t, fx.im)
	before := f.Hash()
	src := guard(t, f)
	img, err := vhdx.Open(src, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	wantCodes(t, img, codes{"log.replay_needed": sevW})
	for _, f := range img.Check() {
		if f.Code == "log.replay_needed" && !strings.Contains(f.Message, "2 entries of its log were replayed in memory (the active sequence has 2 entries)") {
			t.Errorf("replay message %q: counts must agree in number", f.Message)
		}
	}
	if got := vhdx.LogEntryName(0); got != "log entry 1" {
		t.Errorf("LogEntryName(0) = %q", got)
	}

	l := img.Log
	if !l.ReplayNeeded || l.GUID != vb.DefaultLogGUID || l.Offset != int64(fx.im.LogOffset) || l.Length != fx.im.LogLength {
		t.Errorf("log %+v", l)
	}
	if len(l.Entries) != 2 || fmt.Sprint(l.Active) != "[0 1]" || l.ReplayFrom != 0 || l.Problem != "" {
		t.Fatalf("entries %d active %v from %d problem %q", len(l.Entries), l.Active, l.ReplayFrom, l.Problem)
	}
	e := l.Entries[0]
	if !e.Valid || !e.Active || !e.Replayed || e.SequenceNumber != 10 || e.DescriptorCount != 4 || len(e.Descriptors) != 4 || e.LogOffset != 0 || e.Offset != int64(fx.im.LogOffset) {
		t.Errorf("entry 10 %+v", e)
	}
	if d := e.Descriptors[0]; d.Signature != "zero" || d.Length != dirtyZeroLen || d.TargetOffset != fx.im.Blocks[1].FileOffset+dirtyZeroAt {
		t.Errorf("zero descriptor %+v", d)
	}
	if d := e.Descriptors[1]; d.Signature != "desc" || d.TargetOffset != fx.im.BATOffset || d.Length != 4096 || d.DataOffset != e.Offset+4096 {
		t.Errorf("data descriptor %+v", d)
	}

	// Replay.Changes in replay order with their structures.
	blk1 := int64(fx.im.Blocks[1].FileOffset)
	type ch struct {
		seq       uint64
		off, n    int64
		zero      bool
		structure string
	}
	wantCh := []ch{
		{10, blk1 + dirtyZeroAt, dirtyZeroLen, true, "payload"},
		{10, int64(fx.im.BATOffset), 4096, false, "BAT"},
		{10, int64(fx.newOff) + 64*kib, 4096, false, "payload"},
		{10, int64(fx.newOff) + 68*kib, 4096, false, "payload"},
		{11, blk1 + dirtyPatchAt, 4096, false, "payload"},
	}
	r := img.Replay
	if r == nil || r.Entries != 2 || r.FileSizeBefore != f.Size() || r.FileSizeAfter != f.Size() || len(r.Changes) != len(wantCh) {
		t.Fatalf("replay %+v", r)
	}
	for i, c := range r.Changes {
		if w := wantCh[i]; c.Sequence != w.seq || c.Offset != w.off || c.Length != w.n || c.Zero != w.zero || c.Structure != w.structure {
			t.Errorf("change %d = %+v, want %+v", i, c, w)
		}
	}

	// The replayed BAT and data.
	if e, _ := img.BAT.Block(2); e.State != vhdx.FullyPresent || e.FileOffset != int64(fx.newOff) {
		t.Errorf("replayed BAT entry 2 %+v", e)
	}
	d := mustDisk(t, img)
	if got, want := readAll(t, d), fx.want(); !bytes.Equal(got, want) {
		t.Errorf("replayed disk: %s", firstDiff(got, want))
	}
	// ReadFile shows the replayed file.
	p := make([]byte, 16)
	if _, err := img.ReadFile(p, int64(fx.im.BATOffset)+16); err != nil || binary.LittleEndian.Uint64(p) != vb.EncodeBATEntry(6, fx.newOff) {
		t.Errorf("ReadFile of the BAT: % x, %v", p, err)
	}

	// The on-disk view.
	od := img.OnDisk()
	if od == img || od.Replay != nil || od.OnDisk() != od {
		t.Fatalf("OnDisk returned a replayed image")
	}
	if e, _ := od.BAT.Block(2); e.State != vhdx.NotPresent {
		t.Errorf("on-disk BAT entry 2 %+v", e)
	}
	if got, want := readAll(t, mustDisk(t, od)), fx.wantOnDisk(); !bytes.Equal(got, want) {
		t.Errorf("on-disk disk: %s", firstDiff(got, want))
	}
	if _, err := od.ReadFile(p, int64(fx.im.BATOffset)+16); err != nil || !isZeros(p[:8]) {
		t.Errorf("on-disk ReadFile of the BAT: % x, %v", p, err)
	}
	if len(od.Log.Entries) != 2 || len(od.Log.Active) != 2 {
		t.Errorf("on-disk log %+v", od.Log)
	}
	wantCodes(t, od, codes{"log.replay_needed": sevW})

	// NoReplay gives the same view directly.
	nr, err := vhdx.OpenWithOptions(src, f.Size(), vhdx.Options{NoReplay: true})
	if err != nil || nr.Replay != nil {
		t.Fatalf("NoReplay: %v", err)
	}
	if got := readRange(t, mustDisk(t, nr), 2*mib+64*kib, 4096); !isZeros(got) {
		t.Errorf("NoReplay shows replayed data")
	}
	if after := f.Hash(); after != before {
		t.Errorf("the source changed")
	}
}

// TestLogEntryValidity: torn or corrupt entries at the head are ignored and
// the valid prefix replays.
func TestLogEntryValidity(t *testing.T) {
	clobber := bytes.Repeat([]byte{0xCC}, 4096)
	cases := []struct {
		name  string
		edit  func(e *vb.LogEntry)
		codes codes
	}{
		{"bad_checksum", func(e *vb.LogEntry) { e.BadChecksum = true },
			codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"data_sector_sequence", func(e *vb.LogEntry) {
			// Valid checksum, but the data sector carries another sequence number.
			e.Edit = func(b []byte) { binary.LittleEndian.PutUint32(b[4096+4092:], 99) }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"data_sector_signature", func(e *vb.LogEntry) {
			e.Edit = func(b []byte) { copy(b[4096:], "DATA") }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"descriptor_sequence", func(e *vb.LogEntry) {
			e.Edit = func(b []byte) { binary.LittleEndian.PutUint64(b[64+24:], 7) }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"descriptor_signature", func(e *vb.LogEntry) {
			e.Edit = func(b []byte) { copy(b[64:], "dexc") }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"torn_write", func(e *vb.LogEntry) { e.WrittenSectors = 1 },
			codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"entry_length_too_big", func(e *vb.LogEntry) {
			e.Edit = func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 2*mib) }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"unaligned_tail", func(e *vb.LogEntry) {
			e.Edit = func(b []byte) { binary.LittleEndian.PutUint32(b[12:], 100) }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"too_many_descriptors", func(e *vb.LogEntry) {
			e.Edit = func(b []byte) { binary.LittleEndian.PutUint32(b[24:], 1000) }
		}, codes{"log.replay_needed": sevW, "log.entry_invalid": sevW}},
		{"other_guid_invalid", func(e *vb.LogEntry) {
			e.LogGuid = uuid.MustParse("0badc0de-1111-2222-3333-444455556666")
			e.BadChecksum = true
		}, codes{"log.replay_needed": sevW, "log.entry_invalid_old": sevI}},
		{"other_guid_valid", func(e *vb.LogEntry) {
			e.LogGuid = uuid.MustParse("0badc0de-1111-2222-3333-444455556666")
		}, codes{"log.replay_needed": sevW, "log.entry_stale": sevI}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newDirtyFixture()
			e12 := vb.NewLogEntry(12)
			e12.Writes = []vb.LogWrite{{FileOffset: fx.im.Blocks[1].FileOffset, Data: clobber}}
			c.edit(&e12)
			fx.im.AddLogEntry(e12)
			img := openBytes(t, fx.im.Bytes())
			wantCodes(t, img, c.codes)
			if img.Replay == nil || img.Replay.Entries != 2 || len(img.Log.Active) != 2 {
				t.Fatalf("replay %+v, active %v", img.Replay, img.Log.Active)
			}
			if n := len(img.Log.Entries); n != 3 {
				t.Fatalf("%d entries found, want 3", n)
			}
			if e := img.Log.Entries[2]; e.Active || e.Replayed || (e.Valid && e.LogGUID == vb.DefaultLogGUID) {
				t.Errorf("entry 12 %+v", e)
			}
			if got, want := readAll(t, mustDisk(t, img)), fx.want(); !bytes.Equal(got, want) {
				t.Errorf("disk: %s", firstDiff(got, want))
			}
		})
	}
}

// TestLogSequences covers the choice of the active sequence and ReplayFrom.
func TestLogSequences(t *testing.T) {
	// mk returns an image with block 1 present and a 4 KiB write helper.
	mk := func() (*vb.Image, func(seq uint64, at uint64, v byte) vb.LogEntry) {
		im := vb.New(vb.Options{VirtualSize: 4 * mib})
		im.SetBlock(1, vb.PayloadFullyPresent, bytes.Repeat([]byte{0x11}, mib))
		blk := im.Blocks[1].FileOffset
		return im, func(seq uint64, at uint64, v byte) vb.LogEntry {
			e := vb.NewLogEntry(seq)
			e.Writes = []vb.LogWrite{{FileOffset: blk + at, Data: bytes.Repeat([]byte{v}, 4096)}}
			return e
		}
	}
	// block1 reads the first 16 KiB of block 1, one byte per 4 KiB.
	block1 := func(t *testing.T, img *vhdx.Image) string {
		t.Helper()
		b := readRange(t, mustDisk(t, img), mib, 16*kib)
		return fmt.Sprintf("%02x%02x%02x%02x", b[0], b[4096], b[8192], b[12288])
	}

	t.Run("tail_skips_applied_entries", func(t *testing.T) {
		im, w := mk()
		im.AddLogEntry(w(20, 0, 0xA0))
		im.AddLogEntry(w(21, 4096, 0xA1))
		e := w(22, 8192, 0xA2)
		e.Tail = int64(im.Layout().LogEntries[1].Offset) // the head's tail points at entry 21
		im.AddLogEntry(e)
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.replay_needed": sevW})
		l := img.Log
		if fmt.Sprint(l.Active) != "[0 1 2]" || l.ReplayFrom != 1 || img.Replay.Entries != 2 {
			t.Fatalf("active %v from %d replayed %d", l.Active, l.ReplayFrom, img.Replay.Entries)
		}
		if !l.Entries[0].Active || l.Entries[0].Replayed || !l.Entries[1].Replayed || !l.Entries[2].Replayed {
			t.Errorf("flags %+v %+v", l.Entries[0], l.Entries[1])
		}
		if got := block1(t, img); got != "11a1a211" {
			t.Errorf("block 1 = %s, want 11a1a211 (entry 20 is before the tail)", got)
		}
	})

	t.Run("sequence_gap_breaks_chain", func(t *testing.T) {
		im, w := mk()
		im.AddLogEntry(w(30, 0, 0xB0))
		im.AddLogEntry(w(32, 4096, 0xB2)) // not 31: a new chain starts here
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.replay_needed": sevW, "log.entry_stale": sevI})
		if fmt.Sprint(img.Log.Active) != "[1]" || img.Log.Entries[0].Active {
			t.Fatalf("active %v", img.Log.Active)
		}
		if got := block1(t, img); got != "11b21111" {
			t.Errorf("block 1 = %s, want 11b21111", got)
		}
	})

	t.Run("highest_head_wins", func(t *testing.T) {
		// Two self-contained chains: 50 at 0, and 40-41 further on. The
		// chain whose head has the higher sequence number is active.
		im, w := mk()
		im.AddLogEntry(w(50, 0, 0xC0))
		e := w(40, 4096, 0xC1)
		e.Offset = 256 * kib
		im.AddLogEntry(e)
		im.AddLogEntry(w(41, 8192, 0xC2))
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.replay_needed": sevW, "log.entry_stale": sevI})
		if fmt.Sprint(img.Log.Active) != "[0]" {
			t.Fatalf("active %v", img.Log.Active)
		}
		if got := block1(t, img); got != "c0111111" {
			t.Errorf("block 1 = %s, want c0111111", got)
		}
	})

	t.Run("wraps_around_log_end", func(t *testing.T) {
		im, w := mk()
		e := w(60, 4096, 0xD0)
		e.Offset = int64(im.LogLength) - 4096 // header sector last, data sector first
		im.AddLogEntry(e)
		im.AddLogEntry(w(61, 8192, 0xD1)) // follows at log offset 4096
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.replay_needed": sevW})
		l := img.Log
		if len(l.Entries) != 2 || fmt.Sprint(l.Active) != "[1 0]" && fmt.Sprint(l.Active) != "[0 1]" {
			t.Fatalf("entries %d active %v", len(l.Entries), l.Active)
		}
		first := l.Entries[l.Active[0]]
		if first.SequenceNumber != 60 || first.LogOffset != l.Length-4096 || first.Descriptors[0].DataOffset != l.Offset {
			t.Errorf("wrapped entry %+v", first)
		}
		if got := block1(t, img); got != "11d0d111" {
			t.Errorf("block 1 = %s, want 11d0d111", got)
		}
	})

	t.Run("tail_outside_chain", func(t *testing.T) {
		im, w := mk()
		e := w(70, 0, 0xE0)
		e.Tail = 512 * kib // no entry there
		im.AddLogEntry(e)
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.unusable": sevE, "log.entry_stale": sevI})
		if len(img.Log.Active) != 0 || img.Replay != nil || img.Log.Problem == "" {
			t.Fatalf("active %v replay %+v", img.Log.Active, img.Replay)
		}
		if got := block1(t, img); got != "11111111" {
			t.Errorf("block 1 = %s: an unusable log was replayed", got)
		}
	})

	t.Run("guid_set_no_entries", func(t *testing.T) {
		im, _ := mk()
		im.Headers[0].LogGUID, im.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
		img := openBytes(t, im.Bytes())
		// Nothing of the log was written: a warning, not an error.
		wantCodes(t, img, codes{"log.unusable": sevW})
	})

	t.Run("clean_log_with_old_entries", func(t *testing.T) {
		// Entries left in a log that is no longer active (log GUID zero in
		// the header) are not replayed and not errors.
		im, w := mk()
		im.AddLogEntry(w(80, 0, 0xF0))
		im.Headers[0].LogGUID, im.Headers[1].LogGUID = uuid.Nil, uuid.Nil
		im.LogEntries[0].LogGuid = vb.DefaultLogGUID
		img := openBytes(t, im.Bytes())
		if img.Replay != nil || img.Log.ReplayNeeded {
			t.Fatalf("clean log replayed")
		}
		wantCodes(t, img, codes{"log.entry_stale": sevI})
		if got := block1(t, img); got != "11111111" {
			t.Errorf("block 1 = %s", got)
		}
	})

	t.Run("log_outside_file", func(t *testing.T) {
		im, _ := mk()
		// A log outside the file is an error of the header (a writer
		// would write there) and leaves nothing to replay.
		im.Headers[1].LogOffset = 1 << 40
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.unusable": sevW, "header.log_bounds": sevE})
		// A log offset whose int64 form is negative, and whose end wraps
		// past 2^64, lies outside too.
		im.Headers[1].LogOffset = 1<<64 - mib
		img = openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.unusable": sevW, "header.log_bounds": sevE})
		if img.Log.Problem == "" || !bytes.Contains([]byte(img.Log.Problem), []byte("outside")) {
			t.Errorf("log problem %q", img.Log.Problem)
		}
	})
}

// TestLogFileOffsets: LastFileOffset extends the replayed file;
// FlushedFileOffset beyond the file is an error.
func TestLogFileOffsets(t *testing.T) {
	t.Run("last_file_offset_extends", func(t *testing.T) {
		fx := newDirtyFixture()
		natural := uint64(fx.im.Size())
		fx.im.LogEntries[1].LastFileOffset = natural + 3*mib
		b := fx.im.Bytes()
		img := openBytes(t, b)
		wantCodes(t, img, codes{"log.replay_needed": sevW})
		if img.FileSize() != int64(natural+3*mib) || img.Size != int64(len(b)) || img.Replay.FileSizeAfter != int64(natural+3*mib) || img.Replay.FileSizeBefore != int64(natural) {
			t.Fatalf("FileSize %d Size %d replay %+v", img.FileSize(), img.Size, img.Replay)
		}
		p := make([]byte, 8192)
		n, err := img.ReadFile(p, int64(natural)-4096)
		if n != 8192 || err != nil || !isZeros(p[4096:]) {
			t.Errorf("ReadFile across the old end = %d, %v", n, err)
		}
		n, err = img.ReadFile(p, int64(natural+3*mib)-100)
		if n != 100 || err == nil {
			t.Errorf("ReadFile across the new end = %d, %v", n, err)
		}
		if od := img.OnDisk(); od.FileSize() != int64(natural) {
			t.Errorf("on-disk FileSize %d", od.FileSize())
		}
		if got, want := readAll(t, mustDisk(t, img)), fx.want(); !bytes.Equal(got, want) {
			t.Errorf("disk: %s", firstDiff(got, want))
		}
	})

	t.Run("block_in_extended_space", func(t *testing.T) {
		// The log extends the file and points a block into the new space:
		// the block reads as zeros plus what the log wrote there.
		im := vb.New(vb.Options{VirtualSize: 4 * mib})
		natural := uint64(im.Size())
		batSector := make([]byte, 4096)
		binary.LittleEndian.PutUint64(batSector[8*3:], vb.EncodeBATEntry(vb.PayloadFullyPresent, natural))
		data := pattern(4096, 50)
		e := vb.NewLogEntry(5)
		e.Writes = []vb.LogWrite{{FileOffset: im.BATOffset, Data: batSector}, {FileOffset: natural + 4096, Data: data}}
		e.LastFileOffset = natural + mib
		im.AddLogEntry(e)
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"log.replay_needed": sevW})
		got := readRange(t, mustDisk(t, img), 3*mib, 8192)
		if !isZeros(got[:4096]) || !bytes.Equal(got[4096:], data) {
			t.Errorf("block 3 after replay: %s", firstDiff(got[4096:], data))
		}
		if od := img.OnDisk(); len(findingsWith(od, "bat.beyond_eof")) != 0 {
			t.Errorf("on-disk view has a block beyond EOF: the BAT was not replayed there")
		}
	})

	t.Run("flushed_beyond_eof", func(t *testing.T) {
		fx := newDirtyFixture()
		fx.im.LogEntries[1].FlushedFileOffset = uint64(fx.im.Size()) + mib
		img := openBytes(t, fx.im.Bytes())
		wantCodes(t, img, codes{"log.replay_needed": sevW, "log.flushed_beyond_eof": sevE})
		if f := findingsWith(img, "log.flushed_beyond_eof"); len(f) != 1 || f[0].Offset != img.Log.Entries[1].Offset+48 {
			t.Errorf("finding %+v", f)
		}
	})
}

// TestLogReplayOracle replays random overlapping writes and zero ranges,
// spread over several entries, and compares the replayed file with a plain
// byte slice the same operations were applied to in order.
func TestLogReplayOracle(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		im := vb.New(vb.Options{VirtualSize: 8 * mib, LogSize: 4 * mib})
		im.SetBlock(0, vb.PayloadFullyPresent, pattern(mib, seed))
		im.SetBlock(1, vb.PayloadFullyPresent, pattern(mib, seed+100))
		area := int64(im.Blocks[0].FileOffset) // blocks 0 and 1: 2 MiB of file
		base := im.Bytes()
		model := bytes.Clone(base)
		r := rand.New(rand.NewPCG(seed, 99))
		for s := uint64(0); s < 6; s++ {
			e := vb.NewLogEntry(50 + s)
			// The builder writes an entry's zero descriptors before its data
			// descriptors; the model follows the same order.
			for k := 0; k < 1+r.IntN(6); k++ {
				n := 4096 * (1 + r.Int64N(40))
				off := area + 4096*r.Int64N((2*mib-n)/4096+1)
				e.Zeros = append(e.Zeros, vb.LogZero{FileOffset: uint64(off), Length: uint64(n)})
				clear(model[off : off+n])
			}
			for k := 0; k < r.IntN(5); k++ {
				data := pattern(4096*(1+r.IntN(6)), r.Uint64())
				off := area + 4096*r.Int64N((2*mib-int64(len(data)))/4096+1)
				e.Writes = append(e.Writes, vb.LogWrite{FileOffset: uint64(off), Data: data})
				copy(model[off:], data)
			}
			im.AddLogEntry(e)
		}
		img := openBytes(t, im.Bytes())
		if img.Replay == nil || img.Replay.Entries != 6 {
			t.Fatalf("seed %d: replay %+v", seed, img.Replay)
		}
		got := make([]byte, 2*mib)
		if n, err := img.ReadFile(got, area); n != len(got) || err != nil {
			t.Fatalf("ReadFile: %d, %v", n, err)
		}
		if want := model[area : area+2*mib]; !bytes.Equal(got, want) {
			t.Errorf("seed %d: replayed file: %s", seed, firstDiff(got, want))
		}
		// Unaligned reads across patch edges agree too.
		for k := 0; k < 50; k++ {
			off, n := area+r.Int64N(2*mib-9000), 1+r.IntN(9000)
			p := make([]byte, n)
			if m, err := img.ReadFile(p, off); m != n || err != nil || !bytes.Equal(p, model[off:off+int64(n)]) {
				t.Fatalf("seed %d: ReadFile(%d, %d) = %d, %v", seed, off, n, m, err)
			}
		}
	}
}

// TestLogManyDescriptors: an entry filling a 1 MiB log with 32 000 zero
// descriptors (in descending order, the worst case for a naive overlay)
// replays quickly and with bounded memory.
func TestLogManyDescriptors(t *testing.T) {
	const n = 32000
	im := vb.New(vb.Options{VirtualSize: gib})
	e := vb.NewLogEntry(1)
	for i := n - 1; i >= 0; i-- {
		e.Zeros = append(e.Zeros, vb.LogZero{FileOffset: uint64(64*mib + 8192*i), Length: 4096})
	}
	im.AddLogEntry(e)
	b := im.Bytes()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	img := openBytes(t, b)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	if len(img.Replay.Changes) != n || img.FileSize() != 64*mib+8192*n-4096 {
		t.Fatalf("%d changes, file size %d", len(img.Replay.Changes), img.FileSize())
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; elapsed > 2*time.Second || alloc > 256*mib {
		t.Errorf("Open took %v and allocated %d MiB for %d descriptors", elapsed, alloc/mib, n)
	}
}
