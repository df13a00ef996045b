package vhdx_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// Invariants every fuzz target checks on every input:
//   - nothing panics;
//   - every error wraps a sentinel of errors.go (or is io.EOF from a read
//     running past the end); Open returns no image only for ErrNotVHDX;
//   - a read succeeds with exactly the requested length, or runs past the
//     end with exactly the bytes before it and io.EOF, or fails; reads are
//     deterministic, and two halves read what the whole read;
//   - extents tile the disk in order; zero-state extents read as zeros and
//     present ones read the file bytes they point at; Counts agree with the
//     extents and add up to the BAT geometry;
//   - no single read of the source exceeds 64 MiB plus the file size, and
//     one run allocates less than 256 MiB.

var sentinels = []error{vhdx.ErrNotVHDX, vhdx.ErrHeadersCorrupt, vhdx.ErrRegionTablesCorrupt, vhdx.ErrUnsupported,
	vhdx.ErrCorrupt, vhdx.ErrTruncated, vhdx.ErrBeyondEnd, vhdx.ErrParentRequired, io.EOF}

// fuzzInputTimeout bounds the time one input may take.
const fuzzInputTimeout = 20 * time.Second

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// boundReader records the largest single read.
type boundReader struct {
	r       io.ReaderAt
	mu      sync.Mutex
	maxRead int
}

func (b *boundReader) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	b.maxRead = max(b.maxRead, len(p))
	b.mu.Unlock()
	return b.r.ReadAt(p, off)
}

// patchedReader reads base (zero-extended to size) with patches laid over
// it, so a fuzz input can replace one structure of a template without
// copying the template.
type patchedReader struct {
	base    []byte
	size    int64
	patches []filePatch
}

type filePatch struct {
	off  int64
	data []byte
}

func (p *patchedReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("patchedReader: negative offset")
	}
	if off >= p.size {
		return 0, io.EOF
	}
	n := len(b)
	var err error
	if int64(n) > p.size-off {
		n, err = int(p.size-off), io.EOF
	}
	b = b[:n]
	clear(b)
	if off < int64(len(p.base)) {
		copy(b, p.base[off:])
	}
	for _, x := range p.patches {
		lo, hi := max(off, x.off), min(off+int64(n), x.off+int64(len(x.data)))
		if lo < hi {
			copy(b[lo-off:hi-off], x.data[lo-x.off:])
		}
	}
	return n, err
}

// exercise opens the file in r and checks every invariant. seed drives the
// choice of reads.
func exercise(t *testing.T, r io.ReaderAt, size int64, seed uint64) {
	// Go's fuzzer has no per-input timeout: a hang would only show as a
	// stalled exec count. Crash instead, with every stack, so the input
	// is recorded.
	watchdog := time.AfterFunc(fuzzInputTimeout, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("input still running after %v:\n%s", fuzzInputTimeout, buf[:runtime.Stack(buf, true)]))
	})
	defer watchdog.Stop()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	br := &boundReader{r: r}
	exerciseImage(t, br, size, seed)
	runtime.ReadMemStats(&after)
	if br.maxRead > 64*mib+int(max(size, 0)) {
		t.Fatalf("a single read of %d bytes from a %d-byte file", br.maxRead, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256*mib {
		t.Fatalf("allocated %d MiB", alloc/mib)
	}
}

func exerciseImage(t *testing.T, r io.ReaderAt, size int64, seed uint64) {
	img, err := vhdx.Open(r, size)
	if err != nil && !wrapsSentinel(err) {
		t.Fatalf("Open error wraps no sentinel: %v", err)
	}
	if img == nil {
		if !errors.Is(err, vhdx.ErrNotVHDX) {
			t.Fatalf("Open returned no image with %v", err)
		}
		return
	}
	if err != nil && !errors.Is(err, vhdx.ErrTruncated) && !errors.Is(err, vhdx.ErrHeadersCorrupt) && !errors.Is(err, vhdx.ErrRegionTablesCorrupt) {
		t.Fatalf("Open returned an image with %v", err)
	}
	for _, f := range img.Check() {
		if f.Code == "" || severityRank[f.Severity] == 0 || f.Message == "" {
			t.Fatalf("malformed finding %+v", f)
		}
	}
	if err == nil {
		od := img.OnDisk()
		if od == nil || od.Replay != nil {
			t.Fatalf("OnDisk = %v", od)
		}
		if img.Replay != nil {
			rp := img.Replay
			if rp.FileSizeBefore != size || rp.FileSizeAfter < size || img.FileSize() != rp.FileSizeAfter || rp.Entries <= 0 {
				t.Fatalf("replay %+v, file size %d", rp, img.FileSize())
			}
			for _, c := range rp.Changes {
				if c.Length <= 0 || c.Offset < 0 {
					t.Fatalf("replay change %+v", c)
				}
			}
			od.Check()
		}
	}
	if img.FileSize() > 0 {
		p := make([]byte, 4096)
		for _, off := range []int64{0, img.FileSize() - 1, img.FileSize() / 2} {
			n, err := img.ReadFile(p, off)
			if n > len(p) || err != nil && !wrapsSentinel(err) || err == nil && n != len(p) {
				t.Fatalf("ReadFile at %d: %d, %v", off, n, err)
			}
		}
	}
	d, err := img.Disk()
	if err != nil {
		if d != nil || !wrapsSentinel(err) {
			t.Fatalf("Disk = %v, %v", d, err)
		}
		if img.BAT != nil {
			checkCounts(t, img, nil)
		}
		return
	}
	exerciseDisk(t, img, d, seed)
}

type readResult struct {
	n   int
	err error
	b   []byte
}

func readOnce(t *testing.T, d *vhdx.Disk, off int64, n int) readResult {
	p := make([]byte, n)
	got, err := d.ReadAt(p, off)
	size := d.Size()
	switch {
	case off < 0 || off >= size:
		if got != 0 || !errors.Is(err, vhdx.ErrBeyondEnd) {
			t.Fatalf("ReadAt(%d, %d) of a %d-byte disk = %d, %v; want ErrBeyondEnd", off, n, size, got, err)
		}
	case err == nil:
		if got != n || off+int64(n) > size {
			t.Fatalf("ReadAt(%d, %d) of a %d-byte disk = %d, nil", off, n, size, got)
		}
	case err == io.EOF:
		if off+int64(n) <= size || int64(got) != size-off {
			t.Fatalf("ReadAt(%d, %d) of a %d-byte disk = %d, EOF", off, n, size, got)
		}
	default:
		if !wrapsSentinel(err) || got >= n || int64(got) > size-off {
			t.Fatalf("ReadAt(%d, %d) of a %d-byte disk = %d, %v", off, n, size, got, err)
		}
	}
	return readResult{got, err, p[:got]}
}

func exerciseDisk(t *testing.T, img *vhdx.Image, d *vhdx.Disk, seed uint64) {
	size, bs := d.Size(), int64(img.Metadata.BlockSize)
	if size <= 0 || size > 64*tib || size != int64(img.Metadata.VirtualSize) {
		t.Fatalf("disk size %d", size)
	}
	rnd := rand.New(rand.NewPCG(seed, seed>>32|1))
	type rng struct {
		off int64
		n   int
	}
	reads := []rng{{0, 4096}, {size - 1, 1}, {size - 512, 4096}, {size, 1}, {-1, 1}, {size + bs, 512}}
	for i := 0; i < 12; i++ {
		var off int64
		if i%2 == 0 {
			off = rnd.Int64N(size)
		} else {
			off = rnd.Int64N(size/bs+1)*bs - int64(rnd.IntN(8192)) // near a block boundary
		}
		reads = append(reads, rng{off, 1 + rnd.IntN(192*kib)})
	}
	for _, x := range reads {
		a := readOnce(t, d, x.off, x.n)
		b := readOnce(t, d, x.off, x.n)
		if a.n != b.n || !bytes.Equal(a.b, b.b) || (a.err == nil) != (b.err == nil) {
			t.Fatalf("ReadAt(%d, %d) is not deterministic: %d %v / %d %v", x.off, x.n, a.n, a.err, b.n, b.err)
		}
		if a.err == nil && x.n >= 2 {
			h := x.n / 2
			l, r := readOnce(t, d, x.off, h), readOnce(t, d, x.off+int64(h), x.n-h)
			if l.err == nil && r.err == nil && !bytes.Equal(append(l.b, r.b...), a.b) {
				t.Fatalf("ReadAt(%d, %d) differs from its two halves", x.off, x.n)
			}
		}
	}

	// Extents tile the disk; sample their content.
	var next int64
	var perState vhdx.StateCounts
	count := 0
	errStop := errors.New("stop")
	err := d.Extents(func(e vhdx.Extent) error {
		if e.Start != next || e.Length <= 0 || e.Start+e.Length > size || e.Start%bs != 0 {
			t.Fatalf("extent %+v after %d (disk %d, block %d)", e, next, size, bs)
		}
		next = e.Start + e.Length
		perState[e.State&7] += uint64((e.Length + bs - 1) / bs)
		if count++; count > 1<<20 {
			return errStop
		} else if count > 20 {
			return nil // sample the first extents only
		}
		for _, at := range []int64{0, e.Length - min(e.Length, 16)} {
			got := readOnce(t, d, e.Start+at, int(min(e.Length, 16)))
			if got.err != nil {
				continue
			}
			switch e.State {
			case vhdx.NotPresent, vhdx.Undefined, vhdx.Zero, vhdx.Unmapped:
				if !isZeros(got.b) {
					t.Fatalf("extent %+v reads non-zero bytes at +%d", e, at)
				}
			case vhdx.FullyPresent:
				want := make([]byte, len(got.b))
				if n, err := img.ReadFile(want, e.FileOffset+at); n == len(want) && (err == nil || err == io.EOF) && !bytes.Equal(want, got.b) {
					t.Fatalf("extent %+v reads other bytes than the file at %d", e, e.FileOffset+at)
				}
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return
	case err != nil:
		if !wrapsSentinel(err) {
			t.Fatalf("Extents: %v", err)
		}
		checkCounts(t, img, nil)
	default:
		if next != size {
			t.Fatalf("extents end at %d, disk is %d", next, size)
		}
		checkCounts(t, img, &perState)
	}
}

// checkCounts checks Counts against the BAT geometry and, when given, the
// per-state block counts seen through Extents.
func checkCounts(t *testing.T, img *vhdx.Image, fromExtents *vhdx.StateCounts) {
	blocks, bitmaps, err := img.BAT.Counts()
	if err != nil {
		if !wrapsSentinel(err) {
			t.Fatalf("Counts: %v", err)
		}
		return
	}
	var nb, nbm uint64
	for s := range blocks {
		nb += blocks[s]
		nbm += bitmaps[s]
	}
	b := img.BAT
	if nb != b.BlockCount || nb+nbm > b.EntryCount || (!img.Metadata.HasParent && nb+nbm != b.EntryCount) {
		t.Fatalf("Counts: %d blocks and %d bitmaps; BAT has %d blocks in %d entries", nb, nbm, b.BlockCount, b.EntryCount)
	}
	if fromExtents != nil && blocks != *fromExtents {
		t.Fatalf("Counts %v, extents %v", blocks, *fromExtents)
	}
}

// ---- templates ----

type template struct {
	b  []byte
	im *vb.Image
}

var (
	templatesOnce sync.Once
	tplDirty      template // newDirtyFixture
	tplRead       template // data in several blocks, a partial last block
	tplDiff       template // differencing disk with a Hyper-V parent locator
)

func templates() {
	templatesOnce.Do(func() {
		fx := newDirtyFixture()
		tplDirty = template{fx.im.Bytes(), fx.im}

		im := vb.New(vb.Options{VirtualSize: 12*mib + 512, PhysicalSectorSize: 4096})
		for i, b := range []int{0, 2, 3, 5, 12} {
			im.SetBlock(b, vb.PayloadFullyPresent, pattern(mib, uint64(i)))
		}
		im.SetBlock(6, vb.PayloadZero, nil)
		im.SetBlock(7, vb.PayloadUnmapped, nil)
		tplRead = template{im.Bytes(), im}

		d := vb.New(vb.Options{VirtualSize: 8 * mib, HasParent: true, ParentLocator: hyperVLocator})
		d.SetBlock(1, vb.PayloadPartiallyPresent, pattern(4096, 1))
		d.MarkSectorsPresent(2048, 8)
		tplDiff = template{d.Bytes(), d}
	})
}

// compactLayout moves a clean image's structures down (no log, metadata at
// 1 MiB, BAT at 2 MiB) so that seeds stay small; call it before SetBlock.
func compactLayout(im *vb.Image) *vb.Image {
	im.MoveLog(0, 0)
	im.MoveMetadata(1 * mib)
	im.MoveBAT(2 * mib)
	return im
}

// cutAfter truncates im's file after n bytes of block b.
func cutAfter(im *vb.Image, b int, n int64) *vb.Image {
	im.FileSize = int64(im.Blocks[b].FileOffset) + n
	return im
}

// seedImages are whole files for FuzzOpen: builder images in many shapes,
// including corpus-like ones (Windows layout, a dirty log), and the first
// 4 MiB of the real dirty-log image when the shared corpus is next to the
// repository. Most are compact (about 3 MiB): large seeds make the fuzzer
// slow, above all when it minimises a new input.
func seedImages(tb testing.TB) [][]byte {
	templates()
	var out [][]byte
	out = append(out, vb.New(vb.Options{}).Bytes(), tplDirty.b)

	// Several blocks and states, a partial last block.
	r := compactLayout(vb.New(vb.Options{VirtualSize: 12*mib + 512, PhysicalSectorSize: 4096}))
	r.SetBlock(6, vb.PayloadZero, nil)
	r.SetBlock(7, vb.PayloadUnmapped, nil)
	r.SetBlock(8, vb.PayloadUndefined, nil)
	r.SetBlock(12, vb.PayloadFullyPresent, pattern(4096, 1))
	r.SetBlock(0, vb.PayloadFullyPresent, pattern(4096, 2))
	out = append(out, cutAfter(r, 0, 4096).Bytes())

	// Differencing, with a Hyper-V parent locator and a sector bitmap.
	d := compactLayout(vb.New(vb.Options{VirtualSize: 8 * mib, HasParent: true, ParentLocator: hyperVLocator}))
	d.SetBlock(1, vb.PayloadPartiallyPresent, pattern(4096, 1))
	d.SetSectorBitmap(0, vb.SectorBitmapPresent, []byte{0xff})
	out = append(out, cutAfter(d, 1, 4096).Bytes())

	// Windows-like: 32 MiB blocks, 4096 physical sectors, ZERO blocks.
	w := compactLayout(vb.New(vb.Options{VirtualSize: gib, BlockSize: 32 * mib, PhysicalSectorSize: 4096}))
	w.SetBlock(0, vb.PayloadFullyPresent, pattern(4096, 5))
	w.SetBlock(1, vb.PayloadZero, nil)
	w.SetBlock(2, vb.PayloadFullyPresent, nil)
	out = append(out, cutAfter(w, 0, 4096).Bytes())

	// Windows-like dirty log: stale entries of another log, then entries
	// whose head's tail skips the first of them.
	l := vb.New(vb.Options{VirtualSize: 32 * mib, BlockSize: 2 * mib, LogicalSectorSize: 4096})
	l.MoveMetadata(2 * mib)
	l.MoveBAT(3 * mib)
	old := vb.NewLogEntry(2)
	old.LogGuid = vb.DefaultDiskID
	l.AddLogEntry(old)
	l.Headers[0].LogGUID, l.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
	l.FileSize = int64(l.BATOffset) + 4096
	var batSector []byte
	for s := uint64(100); s < 104; s++ { // each entry marks one more block ZERO
		batSector = binary.LittleEndian.AppendUint64(batSector, vb.EncodeBATEntry(vb.PayloadZero, 0))
		e := vb.NewLogEntry(s)
		e.Writes = []vb.LogWrite{{FileOffset: l.BATOffset, Data: bytes.Clone(batSector)}}
		e.FlushedFileOffset = uint64(l.FileSize)
		if s == 103 {
			e.Tail = int64(l.Layout().LogEntries[2].Offset)
		}
		l.AddLogEntry(e)
	}
	out = append(out, l.Bytes())

	// A 4 KiB-sector fixed image.
	fx := compactLayout(vb.New(vb.Options{VirtualSize: mib + 4096, LogicalSectorSize: 4096, Fixed: true}))
	fx.FixedPayloadOffset = 3 * mib
	fx.FileSize = 3*mib + 8192
	out = append(out, fx.Bytes())

	// Broken ones: headers, region tables, truncations.
	h := compactLayout(vb.New(vb.Options{}))
	h.Headers[0].BadChecksum, h.Headers[1].Version = true, 2
	out = append(out, h.Bytes())
	rt := compactLayout(vb.New(vb.Options{}))
	rt.RegionTables[0].BadChecksum = true
	rt.AddRegion(vb.DefaultDiskID, 0, mib, true)
	out = append(out, rt.Bytes())
	out = append(out, bytes.Clone(tplRead.b[:mib+100]), bytes.Clone(tplRead.b[:vb.DefaultBATOffset+16]), []byte("vhdxfile"), nil)

	if f, err := os.Open(filepath.Join("..", "..", "shared", "corpus", "vhdx-log-replay.vhdx.gz")); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			b := make([]byte, 3*mib+4096) // header, log, metadata and the BAT's first page
			if n, _ := io.ReadFull(z, b); n == len(b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// FuzzOpen: Open, Check and Disk on arbitrary bytes.
func FuzzOpen(f *testing.F) {
	for _, b := range seedImages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(t, bytes.NewReader(data), int64(len(data)), uint64(len(data)))
	})
}

// FuzzRead replaces the BAT and the geometry items of an image holding
// data in several blocks, then reads random ranges, extents and counts.
func FuzzRead(f *testing.F) {
	templates()
	im := tplRead.im
	bat := tplRead.b[im.BATOffset : im.BATOffset+8*16]
	f.Add(bytes.Clone(bat), uint32(mib), uint64(12*mib+512), uint32(512), uint64(1))
	f.Add(bytes.Clone(bat), uint32(2*mib), uint64(12*mib+512), uint32(512), uint64(2))
	f.Add(bytes.Clone(bat), uint32(32*mib), uint64(64*tib), uint32(4096), uint64(3))
	f.Add(bytes.Clone(bat), uint32(256*mib), uint64(gib), uint32(4096), uint64(4))
	f.Add([]byte{6, 0, 0x40, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0x50}, uint32(mib), uint64(3*mib), uint32(512), uint64(5))
	f.Fuzz(func(t *testing.T, bat []byte, blockSize uint32, virtualSize uint64, lss uint32, seed uint64) {
		if len(bat) > 64*kib {
			bat = bat[:64*kib]
		}
		items := im.Layout().MetadataItems // file parameters, size, page 83, logical, physical
		meta := int64(im.MetadataOffset)
		p := &patchedReader{base: tplRead.b, size: int64(len(tplRead.b)), patches: []filePatch{
			{int64(im.BATOffset), bat},
			{meta + int64(items[0].Offset), binary.LittleEndian.AppendUint32(nil, blockSize)},
			{meta + int64(items[1].Offset), binary.LittleEndian.AppendUint64(nil, virtualSize)},
			{meta + int64(items[3].Offset), binary.LittleEndian.AppendUint32(nil, lss)},
		}}
		exercise(t, p, p.size, seed)
	})
}

// fixLogChecksums recomputes the checksum of every entry header found at a
// 4 KiB boundary of log whose EntryLength fits in log, so mutations reach
// the code behind the checksum.
func fixLogChecksums(log []byte) {
	for s := 0; s+4096 <= len(log); s += 4096 {
		if string(log[s:s+4]) != "loge" {
			continue
		}
		n := int(binary.LittleEndian.Uint32(log[s+8:]))
		if n > 0 && n%4096 == 0 && s+n <= len(log) {
			vb.FixChecksumAt(log, int64(s), int64(n))
		}
	}
}

// FuzzLog replaces the log region of a dirty image (optionally keeping the
// entry checksums valid) and, optionally, the log fields of the current
// header.
func FuzzLog(f *testing.F) {
	templates()
	im := tplDirty.im
	logBytes := tplDirty.b[im.LogOffset : im.LogOffset+uint64(im.LogLength)]
	f.Add(bytes.Clone(logBytes[:32*kib]), true, uint64(0), uint32(0))
	f.Add(bytes.Clone(logBytes[:32*kib]), false, uint64(0), uint32(0))
	f.Add(bytes.Clone(logBytes[:32*kib]), true, uint64(1<<64-mib), uint32(mib))
	f.Add(bytes.Clone(logBytes[:32*kib]), true, uint64(4*mib), uint32(2*mib))
	// A wrapped entry: its header in the last sector, data at the start.
	w := vb.New(vb.Options{VirtualSize: 8 * mib})
	w.SetBlock(1, vb.PayloadFullyPresent, nil)
	e := vb.NewLogEntry(9)
	e.Offset = int64(w.LogLength) - 4096
	e.Writes = []vb.LogWrite{{FileOffset: w.Blocks[1].FileOffset, Data: pattern(8192, 1)}}
	e.Zeros = []vb.LogZero{{FileOffset: w.BATOffset + 4096, Length: 1 << 40}}
	e.LastFileOffset = 1 << 42
	w.AddLogEntry(e)
	wb := w.Bytes()
	f.Add(bytes.Clone(wb[w.LogOffset:w.LogOffset+uint64(w.LogLength)]), false, uint64(0), uint32(0))

	hdr := tplDirty.b[vb.Header2Offset : vb.Header2Offset+vb.HeaderSize]
	f.Fuzz(func(t *testing.T, log []byte, fixCRC bool, logOffset uint64, logLength uint32) {
		if len(log) > int(im.LogLength) {
			log = log[:im.LogLength]
		}
		if fixCRC {
			log = bytes.Clone(log)
			fixLogChecksums(log)
		}
		p := &patchedReader{base: tplDirty.b, size: int64(len(tplDirty.b)), patches: []filePatch{{int64(im.LogOffset), log}}}
		if logOffset != 0 || logLength != 0 {
			h := bytes.Clone(hdr) // header 2 is the current one
			binary.LittleEndian.PutUint32(h[68:], logLength)
			binary.LittleEndian.PutUint64(h[72:], logOffset)
			vb.FixHeaderChecksum(h, 0)
			p.patches = append(p.patches, filePatch{vb.Header2Offset, h})
		}
		exercise(t, p, p.size, uint64(len(log)))
	})
}

// FuzzMetadata replaces the metadata table and the start of the item area,
// and optionally the metadata region's length in both region tables.
func FuzzMetadata(f *testing.F) {
	templates()
	for _, tpl := range []template{tplRead, tplDiff} {
		meta := tpl.b[tpl.im.MetadataOffset:]
		f.Add(bytes.Clone(meta[:32+32*8]), bytes.Clone(meta[64*kib:64*kib+1024]), uint32(0), tpl.im.Options().HasParent)
	}
	f.Add(bytes.Clone(tplRead.b[tplRead.im.MetadataOffset:][:64]), []byte{}, uint32(0xFFF00000), false)
	f.Fuzz(func(t *testing.T, table, items []byte, regionLength uint32, diff bool) {
		tpl := tplRead
		if diff {
			tpl = tplDiff
		}
		im := tpl.im
		table, items = table[:min(len(table), 64*kib)], items[:min(len(items), 64*kib)]
		meta := int64(im.MetadataOffset)
		p := &patchedReader{base: tpl.b, size: int64(len(tpl.b)), patches: []filePatch{{meta, table}, {meta + 64*kib, items}}}
		if regionLength != 0 {
			for _, off := range []int64{vb.RegionTable1Offset, vb.RegionTable2Offset} {
				rt := bytes.Clone(tpl.b[off : off+vb.RegionTableSize])
				binary.LittleEndian.PutUint32(rt[16+32+24:], regionLength) // entry 1 is the metadata region
				vb.FixRegionTableChecksum(rt, 0)
				p.patches = append(p.patches, filePatch{off, rt})
			}
		}
		exercise(t, p, p.size, uint64(regionLength))
	})
}

// FuzzParentLocator replaces the parent locator item of a differencing
// disk (its data and its length in the metadata table).
func FuzzParentLocator(f *testing.F) {
	templates()
	im := tplDiff.im
	loc := im.Layout().MetadataItems[5]
	meta := int64(im.MetadataOffset)
	item := tplDiff.b[meta+int64(loc.Offset) : meta+int64(loc.Offset+loc.Length)]
	f.Add(bytes.Clone(item))
	f.Add(bytes.Clone(item[:20]))
	f.Add(vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, []vb.KeyValue{{Key: "parent_linkage", Value: "{x}"}, {Key: "", Value: "\U0001F600"}}))
	f.Fuzz(func(t *testing.T, item []byte) {
		item = item[:min(len(item), 64*kib)]
		p := &patchedReader{base: tplDiff.b, size: int64(len(tplDiff.b)), patches: []filePatch{
			{meta + int64(loc.Offset), item},
			{meta + 32 + 5*32 + 20, binary.LittleEndian.AppendUint32(nil, uint32(len(item)))},
		}}
		exercise(t, p, p.size, 1)
		img, err := vhdx.Open(p, p.size)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := img.Disk(); !errors.Is(err, vhdx.ErrParentRequired) {
			t.Fatalf("Disk of a differencing disk: %v", err)
		}
		pl := img.Metadata.ParentLocator
		if pl == nil {
			if len(item) >= 20 {
				t.Fatalf("no locator decoded from %d bytes", len(item))
			}
			return
		}
		if pl.Offset != meta+int64(loc.Offset) || len(pl.Entries) > int(pl.KeyValueCount) {
			t.Fatalf("locator %+v", pl)
		}
		for i, kv := range pl.Entries {
			if kv.Offset != pl.Offset+20+12*int64(i) {
				t.Fatalf("entry %d at %d", i, kv.Offset)
			}
			if v, ok := pl.Get(kv.Key); !ok || (v != kv.Value && firstWith(pl, kv.Key) == i) {
				t.Fatalf("Get(%q) = %q, %v; entry %d has %q", kv.Key, v, ok, i, kv.Value)
			}
		}
	})
}

func firstWith(pl *vhdx.ParentLocator, key string) int {
	for i, kv := range pl.Entries {
		if kv.Key == key {
			return i
		}
	}
	return -1
}
