package vhdx

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The crash test records every WriteAt, Truncate and Sync a Writer issues
// while it runs a scripted sequence of writes (dynamic and differencing
// disks, 512- and 4096-byte sectors, 1 MiB blocks and a 1 MiB log that
// wraps), then rebuilds the file as a crash at every point would have left
// it, opens it with the reader (which replays the log in memory) and checks
// every scripted write reads as its old or its new content: all of it for
// writes that allocate or set sector bitmap bits, each 512 bytes for writes
// into sectors already present (those are written in place, like a disk).
// A write whose ops all landed must read new; one whose ops did not start
// must read old; the sectors around every write must never change.
//
// Crash models, for every cut point k (ops[0:k] issued before the crash):
//
//	prefix:  every issued op landed.
//	torn:    ops[0:k] landed and only the first 512 bytes of write ops[k].
//	subset:  everything up to the last Sync before k landed, plus a subset
//	         (in issue order) of the unsynced ops after it: only the newest,
//	         all but the oldest, and random ones whose newest landed op may
//	         be torn. Volatile caches may drop or keep any unflushed write.
//	         Dropping every unsynced op is the prefix model at the last
//	         Sync, which the prefix model already covers.
//
// Check must report no error then, except the one a crash legitimately
// leaves: header.checksum for a torn header write (never met: a header's
// non-zero bytes all lie in its first 512). Between the header update that
// names a new log and that log's first entry (the specification requires
// the GUID first) Check warns that the named log has no entries; the disk
// reads fine then.
//
// Cut images are also opened with OpenWriter (which replays the log into
// the file) and written again, and for 512-byte sectors without a parent
// qemu-img check -r all replays them and must yield the same disk.

type crashOp struct {
	kind byte // 'w' WriteAt, 't' Truncate, 's' Sync
	off  int64
	data []byte
}

// crashRecorder is a File that records its operations.
type crashRecorder struct {
	f   *wtFile
	ops []crashOp
}

func (r *crashRecorder) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }
func (r *crashRecorder) WriteAt(p []byte, off int64) (int, error) {
	r.ops = append(r.ops, crashOp{kind: 'w', off: off, data: bytes.Clone(p)})
	return r.f.WriteAt(p, off)
}
func (r *crashRecorder) Truncate(n int64) error {
	r.ops = append(r.ops, crashOp{kind: 't', off: n})
	return r.f.Truncate(n)
}
func (r *crashRecorder) Sync() error {
	r.ops = append(r.ops, crashOp{kind: 's'})
	return nil
}

// apply lands op on f, or only its first 512 bytes when torn.
func (op crashOp) apply(f *wtFile, torn bool) {
	switch op.kind {
	case 'w':
		d := op.data
		if torn && len(d) > 512 {
			d = d[:512]
		}
		f.WriteAt(d, op.off)
	case 't':
		if !torn {
			f.Truncate(op.off)
		}
	}
}

// crashWrite is one scripted write and what it may read as after a crash.
type crashWrite struct {
	off        int64
	new, old   []byte
	atomic     bool // all old or all new; else each 512 bytes old or new
	start, end int  // its ops: ops[start:end]
}

// crashSentinel is a range no scripted write touches: it must always read
// as before the script.
type crashSentinel struct {
	off int64
	old []byte
}

type crashConfig struct {
	lss    uint32
	parent bool
}

type crashCase struct {
	crashConfig
	writes    []*crashWrite
	sentinels []crashSentinel
	ops       []crashOp
	init      *wtFile        // the file before the script
	parentImg *Image         // the parent of a differencing disk
	logStart  int64          // log region
	logEnd    int64          //
	evals     atomic.Int64   // images checked
	allowed   map[string]int // allowed error findings met, by code
}

const crashVirtualSize = 600 * mib

func TestCrashConsistency(t *testing.T) {
	for _, cfg := range []crashConfig{{512, false}, {4096, false}, {512, true}, {4096, true}} {
		cfg := cfg
		t.Run(fmt.Sprintf("lss=%d-differencing=%t", cfg.lss, cfg.parent), func(t *testing.T) {
			t.Parallel()
			c := &crashCase{crashConfig: cfg, allowed: map[string]int{}}
			c.run(t)
		})
	}
}

// script returns the scripted writes' ranges: special cases first, then
// many small writes into distinct new blocks (enough log entries for the
// 1 MiB log to wrap), then second writes into blocks the script allocated.
func (c *crashCase) script(r *rand.Rand) [][2]int64 {
	lss := int64(c.lss)
	bitmapSpan := int64(8*logSector) * lss // virtual bytes one bitmap sector describes
	ranges := [][2]int64{
		{10*mib - 4*lss, 6 * lss},       // across two new blocks
		{512*mib - 4*kib, 8 * kib},      // across two BAT sectors
		{bitmapSpan - 2*lss, 4 * lss},   // across two sector bitmap sectors
		{300 * mib, 1 * mib},            // one whole block
		{200*mib + 512*kib, 3 * mib},    // four blocks
		{50*mib + 256*kib, 64 * kib},    // in blocks the setup allocated
		{51*mib - 8*kib, 16 * kib},      // (over sectors the setup wrote)
		{55*mib + 4*kib, 4 * kib},       // in a whole block the setup wrote
		{crashVirtualSize - 2*lss, lss}, // the last block
	}
	used := map[int64]bool{}
	for _, rg := range ranges {
		for b := rg[0] / mib; b <= (rg[0]+rg[1]-1)/mib; b++ {
			used[b] = true
		}
	}
	for b := int64(45); b < 60; b++ {
		used[b] = true // the setup's blocks
	}
	var mine []int64
	for len(mine) < 140 {
		b := r.Int64N(crashVirtualSize/mib - 1)
		if used[b] {
			continue
		}
		used[b] = true
		mine = append(mine, b)
		off := b*mib + lss*(1+r.Int64N(256*kib/lss))
		ranges = append(ranges, [2]int64{off, lss * (1 + r.Int64N(16))})
	}
	for _, b := range mine[:20] {
		ranges = append(ranges, [2]int64{b*mib + 512*kib + lss*r.Int64N(64), lss * (1 + r.Int64N(8))})
	}
	return ranges
}

func (c *crashCase) run(t *testing.T) {
	lss := int64(c.lss)
	r := rand.New(rand.NewPCG(uint64(c.lss), btou(c.parent)))
	ranges := c.script(r)
	opt := CreateOptions{VirtualSize: crashVirtualSize, BlockSize: 1 * mib, LogicalSectorSize: c.lss}

	// Setup, not recorded: the parent with data around every range, the
	// image under test, and blocks 50-55 already allocated.
	f := wtCreate(t, opt)
	var chain []*Image
	if c.parent {
		w, err := OpenWriter(f, f.Size())
		if err != nil {
			t.Fatal(err)
		}
		for i, rg := range ranges {
			lo, hi := max(0, rg[0]-8*lss), min(crashVirtualSize, rg[0]+rg[1]+8*lss)
			if _, err := w.WriteAt(wtPattern(int(hi-lo), 7000+uint64(i)), lo); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.WriteAt(wtPattern(6*mib, 6999), 50*mib); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c.parentImg = wtOpen(t, f)
		chain = []*Image{c.parentImg}
		f = wtCreate(t, CreateOptions{Parent: &ParentInfo{Image: c.parentImg, RelativePath: "parent.vhdx"}})
	}
	{
		w, err := OpenWriter(f, f.Size())
		if err != nil {
			t.Fatal(err)
		}
		for _, rg := range [][2]int64{{50 * mib, 8 * kib}, {50*mib + 512*kib, 4 * kib}, {51 * mib, 4 * kib}, {55 * mib, 1 * mib}} {
			if _, err := w.WriteAt(wtPattern(int(rg[1]), uint64(rg[0])), rg[0]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	pre := wtOpen(t, f)
	wtClean(t, pre)
	read := wtDiskReader(pre, chain...)
	oldOf := func(off, n int64) []byte {
		b := make([]byte, n)
		if err := read(b, off); err != nil {
			t.Fatal(err)
		}
		return b
	}
	covered := map[int64]bool{} // sectors some write covers
	for _, rg := range ranges {
		for s := rg[0]; s < rg[0]+rg[1]; s += lss {
			if covered[s] {
				t.Fatalf("script ranges overlap at %d", s)
			}
			covered[s] = true
		}
	}
	for i, rg := range ranges {
		c.writes = append(c.writes, &crashWrite{off: rg[0], new: wtPattern(int(rg[1]), uint64(i)+1), old: oldOf(rg[0], rg[1])})
		for _, s := range []int64{rg[0] - lss, rg[0] + rg[1]} {
			if s >= 0 && s < crashVirtualSize && !covered[s] {
				c.sentinels = append(c.sentinels, crashSentinel{off: s, old: oldOf(s, lss)})
			}
		}
	}
	if c.parent {
		for _, s := range c.sentinels[:20] {
			if isZero(s.old) {
				t.Fatalf("sentinel at %d reads zeros from the parent; the test needs parent data", s.off)
			}
		}
	}

	// The recorded session.
	c.init = f.Clone()
	rec := &crashRecorder{f: f}
	w, err := OpenWriter(rec, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	c.logStart, c.logEnd = int64(w.hdr.LogOffset), int64(w.hdr.LogOffset)+int64(w.hdr.LogLength)
	for _, cw := range c.writes {
		// A write is all-or-nothing unless some of its sectors are already
		// present: those are overwritten in place.
		cw.atomic = true
		for pos := cw.off; pos < cw.off+int64(len(cw.new)); pos += lss {
			cw.atomic = cw.atomic && !crashPresent(t, w, pos)
		}
		cw.start = len(rec.ops)
		if _, err := w.WriteAt(cw.new, cw.off); err != nil {
			t.Fatal(err)
		}
		cw.end = len(rec.ops)
	}
	written, logLen, wraps := w.log.written, uint64(w.hdr.LogLength), w.log.wraps
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.ops = rec.ops
	if wraps < 1 {
		t.Fatalf("the log did not wrap: %d bytes of entries in a %d-byte log", written, logLen)
	}
	atomicWrites := 0
	for _, cw := range c.writes {
		atomicWrites += btoi(cw.atomic)
	}

	// After Close: clean, log empty, every write new.
	final := wtOpen(t, f)
	wtClean(t, final)
	if final.CurrentHeader().LogGUID != uuid.Nil {
		t.Errorf("log GUID %s after Close", final.CurrentHeader().LogGUID)
	}
	c.check(t, f, func(int) bool { return true }, -1, "final")

	// Every cut point under every model.
	short := testing.Short()
	var cur = c.init.Clone()
	synced, lastSync := c.init.Clone(), -1
	for k := 0; k <= len(c.ops); k++ {
		c.check(t, cur, func(i int) bool { return i < k }, -1, fmt.Sprintf("prefix k=%d", k))
		if k < len(c.ops) && c.ops[k].kind == 'w' && len(c.ops[k].data) > 512 {
			torn := cur.Clone()
			c.ops[k].apply(torn, true)
			c.check(t, torn, func(i int) bool { return i < k }, k, fmt.Sprintf("torn k=%d", k))
		}
		// Unsynced ops after the last Sync: only the newest lands; all but
		// the oldest land; and random subsets, the last landed op torn.
		if window := k - lastSync - 1; window >= 1 {
			subsets := []map[int]bool{{k - 1: true}}
			if window >= 2 {
				most := map[int]bool{}
				for i := lastSync + 2; i < k; i++ {
					most[i] = true
				}
				subsets = append(subsets, most)
			}
			if window >= 2 && (!short || k%4 == 0) {
				for trial := 0; trial < 2; trial++ {
					in := map[int]bool{}
					for i := lastSync + 1; i < k; i++ {
						if r.IntN(2) == 0 {
							in[i] = true
						}
					}
					subsets = append(subsets, in)
				}
			}
			for si, in := range subsets {
				tornAt := -1
				if si >= 2 && r.IntN(3) > 0 {
					for i := lastSync + 1; i < k; i++ {
						if in[i] {
							tornAt = i
						}
					}
					if tornAt >= 0 {
						in[tornAt] = false // the newest landed op lands torn
					}
				}
				sub := synced.Clone()
				for i := lastSync + 1; i < k; i++ {
					if in[i] || i == tornAt {
						c.ops[i].apply(sub, i == tornAt)
					}
				}
				ls := lastSync
				c.check(t, sub, func(i int) bool { return i <= ls || in[i] }, tornAt, fmt.Sprintf("subset k=%d #%d %v torn %d", k, si, slices.Sorted(maps.Keys(in)), tornAt))
			}
		}
		if t.Failed() {
			return
		}
		if k == len(c.ops) {
			break
		}
		c.ops[k].apply(cur, false)
		if c.ops[k].kind == 's' {
			synced, lastSync = cur.Clone(), k
		}
	}
	t.Logf("%d ops (%d syncs), %d writes (%d atomic), %d sentinels, %d images checked, log wrapped %d times (%d bytes of entries in %d); allowed crash findings met: %v",
		len(c.ops), c.count('s'), len(c.writes), atomicWrites, len(c.sentinels), c.evals.Load(), wraps, written, logLen, c.allowed)

	c.recoverAndContinue(t, r)
	if !c.parent && c.lss == 512 {
		c.qemu(t, f)
	}
}

// crashPresent reports whether the sector at virtual offset pos is stored
// in the image w writes (not in its parent, not unallocated).
func crashPresent(t *testing.T, w *Writer, pos int64) bool {
	raw, err := w.entry(nil, w.blockIndex(uint64(pos/w.blockSize)))
	if err != nil {
		t.Fatal(err)
	}
	switch BlockState(raw & 7) {
	case FullyPresent:
		return true
	case PartiallyPresent:
		chunk, bit := w.sectorBit(pos)
		bm, err := w.bitmapBlock(nil, chunk, false)
		if err != nil {
			t.Fatal(err)
		}
		sec, err := w.sector(nil, bm+int64(bit/8)&^(logSector-1))
		if err != nil {
			t.Fatal(err)
		}
		return sec[(bit/8)%logSector]&(1<<(bit%8)) != 0
	}
	return false
}

func btou(b bool) uint64 { return uint64(btoi(b)) }

func (c *crashCase) count(kind byte) int {
	n := 0
	for _, op := range c.ops {
		n += btoi(op.kind == kind)
	}
	return n
}

func (c *crashCase) isHeaderWrite(i int) bool {
	return i >= 0 && c.ops[i].kind == 'w' && (c.ops[i].off == header1Offset || c.ops[i].off == header2Offset)
}

// check opens f as a crash left it and checks every scripted write and
// sentinel. landed(i) reports op i fully landed; torn is the op that landed
// in part, or -1.
func (c *crashCase) check(t *testing.T, f *wtFile, landed func(int) bool, torn int, label string) {
	t.Helper()
	c.evals.Add(1)
	img, err := Open(f, f.Size())
	if err != nil {
		t.Fatalf("%s: Open: %v", label, err)
	}
	// The error a crash legitimately leaves: a torn header (the other one
	// is used). A log GUID written to the header just before the first entry
	// (the specification requires the GUID first) is only a warning.
	var allowed []string
	if c.isHeaderWrite(torn) {
		allowed = append(allowed, "header.checksum")
	}
	for _, fd := range img.Check() {
		if fd.Severity != SeverityError {
			continue
		}
		if !slices.Contains(allowed, fd.Code) {
			t.Fatalf("%s: error finding %s %s: %s", label, fd.Code, fd.Structure, fd.Message)
		}
		c.allowed[fd.Code]++
	}
	var parent func([]byte, int64) error
	if c.parent {
		parent = wtChain(c.parentImg)
	}
	full := c.evals.Load()%16 == 1 || torn < 0 && landed(len(c.ops)-1)
	buf := make([]byte, 64*kib)
	for wi, cw := range c.writes {
		// Large writes are read whole in one image of 16; otherwise 4 KiB
		// at both ends and around every block boundary.
		n := len(cw.new)
		var pieces [][2]int
		if full || n <= 64*kib {
			for at := 0; at < n; at += len(buf) {
				pieces = append(pieces, [2]int{at, min(n, at+len(buf))})
			}
		} else {
			pieces = [][2]int{{0, 4 * kib}, {n - 4*kib, n}}
			for b := (cw.off/mib + 1) * mib; b < cw.off+int64(n); b += mib {
				at := int(b - cw.off)
				pieces = append(pieces, [2]int{at - 4*kib, at + 4*kib})
			}
		}
		isNew, isOld := true, true
		for _, pc := range pieces {
			got := buf[:pc[1]-pc[0]]
			if err := wtRead(img, parent, got, cw.off+int64(pc[0])); err != nil {
				t.Fatalf("%s: write %d: read: %v", label, wi, err)
			}
			isNew = isNew && bytes.Equal(got, cw.new[pc[0]:pc[1]])
			isOld = isOld && bytes.Equal(got, cw.old[pc[0]:pc[1]])
			if !cw.atomic {
				for i := 0; i < len(got); i += 512 {
					g, at := got[i:i+512], pc[0]+i
					if !bytes.Equal(g, cw.new[at:at+512]) && !bytes.Equal(g, cw.old[at:at+512]) {
						t.Fatalf("%s: in-place write %d at %d: bytes %d-%d read neither old nor new", label, wi, cw.off, at, at+512)
					}
				}
			}
		}
		all, none := true, true
		for i := cw.start; i < cw.end; i++ {
			all = all && landed(i)
			none = none && !landed(i) && i != torn
		}
		switch {
		case all && !isNew:
			t.Fatalf("%s: write %d (%d bytes at %d, ops %d-%d) fully landed but does not read new", label, wi, n, cw.off, cw.start, cw.end)
		case none && !isOld:
			t.Fatalf("%s: write %d (%d bytes at %d, ops %d-%d) did not start but does not read old", label, wi, n, cw.off, cw.start, cw.end)
		case cw.atomic && !isNew && !isOld:
			t.Fatalf("%s: write %d (%d bytes at %d, ops %d-%d) reads neither old nor new", label, wi, n, cw.off, cw.start, cw.end)
		}
	}
	for _, s := range c.sentinels {
		got := buf[:len(s.old)]
		if err := wtRead(img, parent, got, s.off); err != nil || !bytes.Equal(got, s.old) {
			t.Fatalf("%s: untouched sector at %d changed (%v)", label, s.off, err)
		}
	}
}

// recoverAndContinue opens cut images with OpenWriter (which replays the
// log into the file), checks the file then reads as the in-memory replay
// did, writes once more, closes, and checks the result is clean.
func (c *crashCase) recoverAndContinue(t *testing.T, r *rand.Rand) {
	var parent func([]byte, int64) error
	if c.parent {
		parent = wtChain(c.parentImg)
	}
	cur := c.init.Clone()
	recovered := 0
	for k := 0; k < len(c.ops); k++ {
		c.ops[k].apply(cur, false)
		// Cut right after a log entry is flushed (not yet applied), and
		// at every 37th op.
		afterEntry := c.ops[k].kind == 's' && k > 0 && c.ops[k-1].kind == 'w' && c.ops[k-1].off >= c.logStart && c.ops[k-1].off < c.logEnd
		if !afterEntry && k%37 != 0 {
			continue
		}
		f := cur.Clone()
		before := wtOpen(t, f)
		wantReplay := before.Replay != nil
		snap := make([][]byte, len(c.writes))
		for i, cw := range c.writes {
			snap[i] = make([]byte, len(cw.new))
			if err := wtRead(before, parent, snap[i], cw.off); err != nil {
				t.Fatal(err)
			}
		}
		w, err := OpenWriter(f, f.Size())
		if err != nil {
			t.Fatalf("k=%d: OpenWriter: %v", k, err)
		}
		on := wtOpen(t, f)
		if wantReplay && (on.Replay != nil || on.CurrentHeader().LogGUID != uuid.Nil) {
			t.Fatalf("k=%d: OpenWriter left the log to replay", k)
		}
		for i, cw := range c.writes {
			got := make([]byte, len(cw.new))
			if err := wtRead(on, parent, got, cw.off); err != nil || !bytes.Equal(got, snap[i]) {
				t.Fatalf("k=%d: write %d reads differently after replay into the file (%v)", k, i, err)
			}
		}
		extra := wtPattern(int(c.lss)*3, uint64(k))
		at := int64(r.IntN(crashVirtualSize/int(c.lss)-3)) * int64(c.lss)
		if _, err := w.WriteAt(extra, at); err != nil {
			t.Fatalf("k=%d: write after recovery: %v", k, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		after := wtOpen(t, f)
		wtClean(t, after)
		got := make([]byte, len(extra))
		if err := wtRead(after, parent, got, at); err != nil || !bytes.Equal(got, extra) {
			t.Fatalf("k=%d: write after recovery reads back wrong (%v)", k, err)
		}
		recovered += btoi(wantReplay)
	}
	if recovered == 0 {
		t.Errorf("no recovery replayed a log")
	}
	t.Logf("OpenWriter replayed %d crashed logs into the file", recovered)
}

// qemu checks the final image with qemu-img, and has qemu replay our log
// from images cut right after an entry was flushed.
func (c *crashCase) qemu(t *testing.T, final *wtFile) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Log("qemu-img not on PATH: skipping the qemu checks")
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "final.vhdx")
	if err := os.WriteFile(path, final.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	wtQemuCheck(t, path)
	raw := wtQemuConvert(t, path)
	img := wtOpen(t, final)
	d, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	wtCompare(t, func(p []byte, off int64) error { _, err := d.ReadAt(p, off); return err }, raw)

	// qemu replays the log of crashed images (qemu-img check -r all) cut
	// right after an entry was flushed and before it was applied, and cut
	// in the middle of writing an entry (its first 512 bytes landed). The
	// replayed file must then read, through our reader with a clean log,
	// as our in-memory replay of the cut read. Without -short every such
	// cut is tried, else one in eight plus the first and those around the
	// first wrap of the log.
	isLog := func(i int) bool {
		return i >= 0 && i < len(c.ops) && c.ops[i].kind == 'w' && c.ops[i].off >= c.logStart && c.ops[i].off < c.logEnd
	}
	nextLog := func(k int) int {
		for i := k + 1; i < len(c.ops); i++ {
			if isLog(i) {
				return i
			}
		}
		return -1
	}
	cur := c.init.Clone()
	tried, replayedByQemu, wrapCuts := 0, 0, 0
	for k := 0; k < len(c.ops); k++ {
		if isLog(k) {
			// Torn entry: ops[0:k] and the first 512 bytes of the entry.
			if !testing.Short() || k%8 == 0 {
				torn := cur.Clone()
				c.ops[k].apply(torn, true)
				c.qemuReplay(t, dir, torn, fmt.Sprintf("torn entry k=%d", k))
				tried++
			}
		}
		c.ops[k].apply(cur, false)
		if c.ops[k].kind != 's' || !isLog(k-1) {
			continue
		}
		n := nextLog(k)
		aroundWrap := n >= 0 && c.ops[n].off < c.ops[k-1].off || k > 1 && c.ops[k-1].off == c.logStart && tried > 0
		if testing.Short() && k%8 != 0 && !aroundWrap && tried > 0 {
			continue
		}
		wrapCuts += btoi(aroundWrap)
		if c.qemuReplay(t, dir, cur, fmt.Sprintf("flushed entry k=%d", k)) {
			replayedByQemu++
		}
		tried++
	}
	if wrapCuts < 2 || replayedByQemu == 0 {
		t.Errorf("qemu replay: %d cuts around a wrap of the log, %d replayed", wrapCuts, replayedByQemu)
	}
	t.Logf("qemu-img: the final image checks clean and converts equal; qemu-img check -r all repaired %d crashed images (%d replayed a log, %d around a wrap of the log) to what our reader shows", tried, replayedByQemu, wrapCuts)
}

// qemuReplay has qemu-img check -r all replay the log of f (a copy) and
// checks the result reads as our in-memory replay of f. It reports whether
// there was a log to replay.
func (c *crashCase) qemuReplay(t *testing.T, dir string, f *wtFile, label string) bool {
	t.Helper()
	ours := wtOpen(t, f)
	p := filepath.Join(dir, "cut.vhdx")
	if err := f.SaveSparse(p); err != nil {
		t.Fatal(err)
	}
	if out, err := wtRun(false, "qemu-img", "check", "-r", "all", "-f", "vhdx", p); err != nil {
		t.Fatalf("%s: qemu-img check -r all: %v\n%s", label, err, out)
	}
	qf, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	fi, _ := qf.Stat()
	theirs, err := Open(qf, fi.Size())
	if err != nil {
		t.Fatalf("%s: after qemu's replay: %v", label, err)
	}
	if theirs.Replay != nil {
		t.Fatalf("%s: qemu left a log to replay", label)
	}
	a, b := make([]byte, 64*kib), make([]byte, 64*kib)
	cmp := func(off int64, n int) {
		for done := 0; done < n; done += len(a) {
			m := min(len(a), n-done)
			if err := wtRead(ours, nil, a[:m], off+int64(done)); err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			if err := wtRead(theirs, nil, b[:m], off+int64(done)); err != nil {
				t.Fatalf("%s: after qemu's replay: %v", label, err)
			}
			if !bytes.Equal(a[:m], b[:m]) {
				t.Fatalf("%s: qemu's replay reads differently at %d..%d", label, off+int64(done), off+int64(done+m))
			}
		}
	}
	for _, cw := range c.writes {
		cmp(cw.off, len(cw.new))
	}
	for _, s := range c.sentinels {
		cmp(s.off, len(s.old))
	}
	return ours.Replay != nil
}

// wtRun runs a command with a time limit, so a hang fails the test, and
// returns its combined output (stdout only with stdoutOnly).
func wtRun(stdoutOnly bool, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdoutOnly {
		return cmd.Output()
	}
	return cmd.CombinedOutput()
}

func wtQemuCheck(t *testing.T, path string) {
	t.Helper()
	out, err := wtRun(false, "qemu-img", "check", "-f", "vhdx", path)
	if err != nil || !strings.Contains(string(out), "No errors were found") {
		t.Fatalf("qemu-img check %s: %v\n%s", path, err, out)
	}
}

func wtQemuConvert(t *testing.T, path string) []byte {
	t.Helper()
	raw := path + ".raw"
	if out, err := wtRun(false, "qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, raw); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, out)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(raw)
	return b
}
