package vhdx_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// diskModel is what a virtual disk should read: zeros except for the
// recorded runs of data.
type diskModel struct {
	size int64
	runs []modelRun
}

type modelRun struct {
	off  int64
	data []byte
}

func (m *diskModel) put(off int64, data []byte) { m.runs = append(m.runs, modelRun{off, data}) }

// expect returns the bytes [off, off+n) should hold (later runs win).
func (m *diskModel) expect(off int64, n int) []byte {
	b := make([]byte, n)
	for _, r := range m.runs {
		lo, hi := max(off, r.off), min(off+int64(n), r.off+int64(len(r.data)))
		if lo < hi {
			copy(b[lo-off:hi-off], r.data[lo-r.off:hi-r.off])
		}
	}
	return b
}

// cmpWriter compares a stream against a model as it is written.
type cmpWriter struct {
	t   testing.TB
	m   *diskModel
	pos int64
	bad int
}

func (w *cmpWriter) Write(p []byte) (int, error) {
	if want := w.m.expect(w.pos, len(p)); !bytes.Equal(p, want) && w.bad < 3 {
		w.bad++
		w.t.Errorf("stream at %d (+%d): %s", w.pos, len(p), firstDiff(p, want))
	}
	w.pos += int64(len(p))
	return len(p), nil
}

// TestGeometries builds dynamic images over every sector size pairing and
// block sizes from 1 to 256 MiB, with virtual sizes that are not a multiple
// of the block size and present blocks stored in reverse order in the file,
// data at both ends of every present block. It checks the metadata decoded,
// a clean Check, whole-disk streaming, reads across block boundaries, at the
// last byte, beyond and past the end, a SectionReader, extents and counts.
func TestGeometries(t *testing.T) {
	cases := []struct {
		lss, pss, bs uint32
		size         uint64
	}{
		{512, 512, 1 * mib, 3*mib + 512},
		{4096, 512, 1 * mib, 5*mib - 4096},
		{512, 4096, 2 * mib, 5*mib + 1024},
		{512, 512, 2 * mib, 8 * mib},
		{4096, 4096, 32 * mib, 70*mib + 4096},
		{512, 4096, 256 * mib, 256*mib + 1*mib + 512},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("lss%d_pss%d_bs%dM_size%d", c.lss, c.pss, c.bs/mib, c.size), func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: c.size, BlockSize: c.bs, LogicalSectorSize: c.lss, PhysicalSectorSize: c.pss})
			nb := int(im.PayloadBlocks())
			bs := int64(c.bs)
			size := int64(c.size)
			if want := int((size + bs - 1) / bs); nb != want {
				t.Fatalf("builder made %d blocks, want %d", nb, want)
			}
			// Present: block 0, every third block and the last; allocated
			// last first so file order is the reverse of disk order.
			present := map[int]bool{0: true, nb - 1: true}
			for b := 3; b < nb; b += 3 {
				present[b] = true
			}
			for b := nb - 1; b >= 0; b-- {
				if present[b] {
					im.SetBlock(b, vb.PayloadFullyPresent, nil)
				}
			}
			f := buildSparse(t, im)
			m := &diskModel{size: size}
			for b := range present {
				blen := min(bs, size-int64(b)*bs)
				chunk := min(blen, 64*kib)
				head, tail := pattern(int(chunk), uint64(2*b+1)), pattern(int(chunk), uint64(2*b+2))
				fo := int64(im.Blocks[b].FileOffset)
				f.WriteAt(head, fo)
				f.WriteAt(tail, fo+blen-chunk)
				m.put(int64(b)*bs, head)
				m.put(int64(b)*bs+blen-chunk, tail)
			}
			img, err := vhdx.Open(f, f.Size())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			md := img.Metadata
			if md.BlockSize != c.bs || md.LogicalSectorSize != c.lss || md.PhysicalSectorSize != c.pss || md.VirtualSize != c.size || md.HasParent || md.LeaveBlocksAllocated {
				t.Errorf("metadata %+v", md)
			}
			if md.Page83 != vb.DefaultDiskID {
				t.Errorf("page 83 %v, want %v", md.Page83, vb.DefaultDiskID)
			}
			if md.ChunkRatio() != vb.ChunkRatio(c.lss, c.bs) || md.BlockCount() != uint64(nb) || img.BAT.EntryCount != im.BATEntries() {
				t.Errorf("chunk ratio %d blocks %d entries %d", md.ChunkRatio(), md.BlockCount(), img.BAT.EntryCount)
			}
			wantCodes(t, img, codes{})
			d := mustDisk(t, img)
			if d.Size() != size {
				t.Fatalf("Size %d, want %d", d.Size(), size)
			}

			w := &cmpWriter{t: t, m: m}
			if n, err := d.WriteTo(w); err != nil || n != size || w.pos != size {
				t.Errorf("WriteTo = %d, %v (streamed %d), want %d", n, err, w.pos, size)
			}

			type rng struct {
				off int64
				n   int
			}
			reads := []rng{{0, 100}, {size - 1, 1}, {size - 4096 - 7, 4096 + 7}, {size - 512, 512}}
			for k := int64(1); k < int64(nb); k++ {
				reads = append(reads, rng{k*bs - 5000, int(min(10000, size-(k*bs-5000)))}, rng{k*bs - 1, 2})
			}
			if bs <= 2*mib && nb >= 3 {
				reads = append(reads, rng{bs - 10, int(bs) + 20}) // three blocks
			}
			for _, r := range reads {
				if got, want := readRange(t, d, r.off, r.n), m.expect(r.off, r.n); !bytes.Equal(got, want) {
					t.Errorf("ReadAt(%d, %d): %s", r.off, r.n, firstDiff(got, want))
				}
			}

			// Reads starting at or beyond the end, and running past it.
			for _, off := range []int64{size, size + 1, size + bs, -1, -4096} {
				p := make([]byte, 10)
				n, err := d.ReadAt(p, off)
				if n != 0 || !errors.Is(err, vhdx.ErrBeyondEnd) {
					t.Errorf("ReadAt at %d = %d, %v, want 0 and ErrBeyondEnd", off, n, err)
				}
			}
			p := make([]byte, 3000)
			n, err := d.ReadAt(p, size-1000)
			if n != 1000 || err != io.EOF {
				t.Errorf("ReadAt past the end = %d, %v, want 1000, io.EOF", n, err)
			}
			if want := m.expect(size-1000, 1000); !bytes.Equal(p[:n], want) {
				t.Errorf("ReadAt past the end: %s", firstDiff(p[:n], want))
			}

			// io.SectionReader: seek near the end and read to EOF; read a
			// block boundary with ReadFull.
			sr := io.NewSectionReader(d, 0, d.Size())
			if _, err := sr.Seek(-3000, io.SeekEnd); err != nil {
				t.Fatal(err)
			}
			tailBytes, err := io.ReadAll(sr)
			if err != nil || !bytes.Equal(tailBytes, m.expect(size-3000, 3000)) {
				t.Errorf("SectionReader tail: %d bytes, %v", len(tailBytes), err)
			}
			if nb > 1 {
				if _, err := sr.Seek(bs-64, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				q := make([]byte, 128)
				if _, err := io.ReadFull(sr, q); err != nil || !bytes.Equal(q, m.expect(bs-64, 128)) {
					t.Errorf("SectionReader across block 0/1: %v", err)
				}
			}

			// Extents: one per block (reverse file order prevents merging
			// present blocks), runs of not-present blocks merged.
			var want []vhdx.Extent
			for b := 0; b < nb; b++ {
				e := vhdx.Extent{Start: int64(b) * bs, Length: min(bs, size-int64(b)*bs), State: vhdx.NotPresent}
				if present[b] {
					e.State, e.FileOffset = vhdx.FullyPresent, int64(im.Blocks[b].FileOffset)
				}
				if k := len(want) - 1; k >= 0 && e.State == vhdx.NotPresent && want[k].State == vhdx.NotPresent {
					want[k].Length += e.Length
					continue
				}
				want = append(want, e)
			}
			if got := collectExtents(t, d); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("extents\n got  %v\n want %v", got, want)
			}

			blocks, bitmaps, err := img.BAT.Counts()
			if err != nil {
				t.Fatal(err)
			}
			var wantBlocks, wantBitmaps vhdx.StateCounts
			wantBlocks[vhdx.FullyPresent] = uint64(len(present))
			wantBlocks[vhdx.NotPresent] = uint64(nb - len(present))
			wantBitmaps[vhdx.NotPresent] = im.BATEntries() - uint64(nb)
			if blocks != wantBlocks || bitmaps != wantBitmaps {
				t.Errorf("Counts = %v %v, want %v %v", blocks, bitmaps, wantBlocks, wantBitmaps)
			}
		})
	}
}

// TestCleanImages: images straight from the builder, in every flavour it
// makes, have no findings at all and read back what was placed.
func TestCleanImages(t *testing.T) {
	cases := []struct {
		name string
		opt  vb.Options
	}{
		{"default", vb.Options{}},
		{"fixed", vb.Options{VirtualSize: 6 * mib, BlockSize: 2 * mib, Fixed: true}},
		{"fixed_4k", vb.Options{VirtualSize: 3*mib + 4096, LogicalSectorSize: 4096, Fixed: true}},
		{"leave_allocated", vb.Options{LeaveBlocksAllocated: true}},
		{"log_4MiB", vb.Options{LogSize: 4 * mib}},
		{"big_sparse", vb.Options{VirtualSize: 2 * tib, BlockSize: 64 * mib}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(c.opt)
			data := pattern(5000, 3)
			im.SetBlock(1, vb.PayloadFullyPresent, data)
			img, _ := openImage(t, im)
			wantCodes(t, img, codes{})
			if img.Metadata.LeaveBlocksAllocated != (c.opt.Fixed || c.opt.LeaveBlocksAllocated) {
				t.Errorf("LeaveBlocksAllocated = %v", img.Metadata.LeaveBlocksAllocated)
			}
			d := mustDisk(t, img)
			bs := int64(im.Options().BlockSize)
			if got := readRange(t, d, bs, 6000); !bytes.Equal(got[:5000], data) || !isZeros(got[5000:]) {
				t.Errorf("block 1 data: %s", firstDiff(got[:5000], data))
			}
			if got := readRange(t, d, 0, 4096); !isZeros(got) {
				t.Errorf("block 0 not zero")
			}
			if img.Replay != nil || img.OnDisk() != img {
				t.Errorf("clean image has a replay")
			}
		})
	}
}

// TestPayloadStates: NOT_PRESENT, UNDEFINED, ZERO and UNMAPPED read as
// zeros even when their entries keep a file offset over non-zero bytes;
// FULLY_PRESENT returns the data; extents and counts follow the states.
func TestPayloadStates(t *testing.T) {
	im := vb.New(vb.Options{VirtualSize: 8 * mib})
	a, b := pattern(mib, 10), pattern(mib, 11)
	im.SetBlock(4, vb.PayloadFullyPresent, a)
	im.SetBlock(5, vb.PayloadFullyPresent, b) // directly after block 4 in the file
	for blk, st := range map[int]uint8{1: vb.PayloadUndefined, 2: vb.PayloadZero, 3: vb.PayloadUnmapped} {
		im.SetBlock(blk, st, nil)
		im.Block(blk).FileOffset = im.Allocate(mib)
		im.Block(blk).Data = bytes.Repeat([]byte{0xEE}, 4096)
	}
	im.SetBlock(6, vb.PayloadZero, nil)
	img, _ := openImage(t, im)
	wantCodes(t, img, codes{})
	d := mustDisk(t, img)
	got := readAll(t, d)
	want := make([]byte, 8*mib)
	copy(want[4*mib:], a)
	copy(want[5*mib:], b)
	if !bytes.Equal(got, want) {
		t.Fatalf("disk content: %s", firstDiff(got, want))
	}
	states := []vhdx.BlockState{vhdx.NotPresent, vhdx.Undefined, vhdx.Zero, vhdx.Unmapped, vhdx.FullyPresent, vhdx.FullyPresent, vhdx.Zero, vhdx.NotPresent}
	for i, s := range states {
		e, err := img.BAT.Block(uint64(i))
		if err != nil || e.State != s || e.Index != uint64(i) || e.Offset != batEntryOffset(im, i) || e.SectorBitmap {
			t.Errorf("BAT block %d = %+v, %v; want state %v", i, e, err, s)
		}
	}
	if e, _ := img.BAT.Block(4); e.FileOffset != int64(im.Blocks[4].FileOffset) {
		t.Errorf("block 4 file offset %d, want %d", e.FileOffset, im.Blocks[4].FileOffset)
	}
	if e, _ := img.BAT.Block(3); e.FileOffset != int64(im.Blocks[3].FileOffset) || e.State.String() != "unmapped" {
		t.Errorf("block 3 entry %+v", e)
	}
	wantExt := []vhdx.Extent{
		{Start: 0, Length: mib, State: vhdx.NotPresent},
		{Start: 1 * mib, Length: mib, State: vhdx.Undefined},
		{Start: 2 * mib, Length: mib, State: vhdx.Zero},
		{Start: 3 * mib, Length: mib, State: vhdx.Unmapped},
		{Start: 4 * mib, Length: 2 * mib, State: vhdx.FullyPresent, FileOffset: int64(im.Blocks[4].FileOffset)},
		{Start: 6 * mib, Length: mib, State: vhdx.Zero},
		{Start: 7 * mib, Length: mib, State: vhdx.NotPresent},
	}
	if ext := collectExtents(t, d); fmt.Sprint(ext) != fmt.Sprint(wantExt) {
		t.Errorf("extents\n got  %v\n want %v", ext, wantExt)
	}
	blocks, _, err := img.BAT.Counts()
	if err != nil {
		t.Fatal(err)
	}
	wantMap := map[string]uint64{"not_present": 2, "undefined": 1, "zero": 2, "unmapped": 1, "fully_present": 2, "partially_present": 0}
	if m := blocks.Map(); fmt.Sprint(m) != fmt.Sprint(wantMap) {
		t.Errorf("Counts %v, want %v", m, wantMap)
	}

	t.Run("partially_present_not_differencing", func(t *testing.T) {
		im := vb.New(vb.Options{VirtualSize: 4 * mib})
		im.SetBlock(1, vb.PayloadFullyPresent, pattern(mib, 1))
		im.SetBlock(2, vb.PayloadPartiallyPresent, pattern(mib, 2))
		img, _ := openImage(t, im)
		wantCodes(t, img, codes{"bat.partial_not_differencing": sevE})
		d := mustDisk(t, img)
		p := make([]byte, 4096)
		_, err := d.ReadAt(p, 2*mib+100)
		wantFormatErr(t, err, vhdx.ErrCorrupt, "BAT entry 2", batEntryOffset(im, 2))
		// A read running into the block returns the bytes before it.
		q := make([]byte, 2*mib)
		n, err := d.ReadAt(q, mib)
		if n != mib || !errors.Is(err, vhdx.ErrCorrupt) || !bytes.Equal(q[:n], pattern(mib, 1)) {
			t.Errorf("read into the partial block = %d, %v", n, err)
		}
		if _, err := d.WriteTo(io.Discard); !errors.Is(err, vhdx.ErrCorrupt) {
			t.Errorf("WriteTo = %v, want ErrCorrupt", err)
		}
	})

	for _, st := range []uint8{4, 5} {
		t.Run(fmt.Sprintf("invalid_state_%d", st), func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: 4 * mib})
			off := im.Allocate(mib)
			im.BATOverride[3] = vb.EncodeBATEntry(st, off)
			img, _ := openImage(t, im)
			wantCodes(t, img, codes{"bat.invalid_state": sevE})
			if e, _ := img.BAT.Block(3); e.State.String() != fmt.Sprintf("invalid_%d", st) {
				t.Errorf("state name %q", e.State)
			}
			d := mustDisk(t, img)
			_, err := d.ReadAt(make([]byte, 512), 3*mib)
			wantFormatErr(t, err, vhdx.ErrCorrupt, "BAT entry 3", batEntryOffset(im, 3))
			if got := readRange(t, d, 0, 3*mib); !isZeros(got) {
				t.Errorf("blocks 0-2 not zero")
			}
		})
	}

	t.Run("windows_placement", func(t *testing.T) {
		// Windows puts 32 MiB blocks at 4, 36 and 68 MiB: 1 MiB aligned,
		// not block aligned. It also uses the ZERO state a lot.
		im := vb.New(vb.Options{VirtualSize: 128 * mib, BlockSize: 32 * mib, PhysicalSectorSize: 4096})
		m := &diskModel{size: 128 * mib}
		for blk := 0; blk < 3; blk++ {
			head := pattern(4096, uint64(blk))
			im.SetBlock(blk, vb.PayloadFullyPresent, head)
			if fo := im.Blocks[blk].FileOffset; fo != uint64(4+32*blk)*mib {
				t.Fatalf("builder placed block %d at %d MiB", blk, fo/mib)
			}
			m.put(int64(blk)*32*mib, head)
		}
		im.SetBlock(3, vb.PayloadZero, nil)
		f := buildSparse(t, im)
		tail := pattern(8192, 99)
		f.WriteAt(tail, 68*mib+32*mib-8192) // end of block 2
		m.put(96*mib-8192, tail)
		img, err := vhdx.Open(f, f.Size())
		if err != nil {
			t.Fatal(err)
		}
		wantCodes(t, img, codes{})
		d := mustDisk(t, img)
		w := &cmpWriter{t: t, m: m}
		if n, err := d.WriteTo(w); n != 128*mib || err != nil {
			t.Errorf("WriteTo = %d, %v", n, err)
		}
		wantExt := []vhdx.Extent{{Start: 0, Length: 96 * mib, State: vhdx.FullyPresent, FileOffset: 4 * mib}, {Start: 96 * mib, Length: 32 * mib, State: vhdx.Zero}}
		if ext := collectExtents(t, d); fmt.Sprint(ext) != fmt.Sprint(wantExt) {
			t.Errorf("extents %v, want %v", ext, wantExt)
		}
	})
}

// TestRealWorldQuirks: practices of Windows, disk2vhd and QEMU are accepted
// with at most info findings (a dirty log adds its warning) and the data
// reads back.
func TestRealWorldQuirks(t *testing.T) {
	data := pattern(10000, 5)
	otherLog := uuid.MustParse("0badc0de-1111-2222-3333-444455556666")
	cases := []struct {
		name  string
		edit  func(im *vb.Image)
		codes codes
	}{
		{"equal_sequence", func(im *vb.Image) {
			im.Headers[0].SequenceNumber, im.Headers[1].SequenceNumber = 9, 9
		}, codes{"header.equal_sequence": sevI}},
		{"identical_headers", func(im *vb.Image) {
			im.Headers[1] = im.Headers[0]
		}, codes{"header.equal_sequence": sevI}},
		{"regions_not_required", func(im *vb.Image) {
			for i := range im.RegionTables {
				for j := range im.RegionTables[i].Entries {
					im.RegionTables[i].Entries[j].Flags = 0
				}
			}
		}, codes{"region.not_required": sevI}},
		{"metadata_before_bat_in_table", func(im *vb.Image) {
			for i := range im.RegionTables {
				e := im.RegionTables[i].Entries
				e[0], e[1] = e[1], e[0]
			}
		}, codes{}},
		{"bat_before_metadata_in_file", func(im *vb.Image) {
			im.MoveBAT(2 * mib)
			im.MoveMetadata(3 * mib)
		}, codes{}},
		{"stale_entries_other_guid", func(im *vb.Image) {
			for _, seq := range []uint64{3, 4} {
				e := vb.NewLogEntry(seq)
				e.LogGuid = otherLog
				e.Writes = []vb.LogWrite{{FileOffset: im.Blocks[1].FileOffset, Data: bytes.Repeat([]byte{0x55}, 4096)}}
				im.AddLogEntry(e)
			}
			im.Headers[0].LogGUID, im.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
			e := vb.NewLogEntry(100)
			e.Writes = []vb.LogWrite{{FileOffset: im.Blocks[1].FileOffset + 8192, Data: bytes.Repeat([]byte{0x77}, 4096)}}
			im.AddLogEntry(e)
		}, codes{"log.entry_stale": sevI, "log.replay_needed": sevW}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: 4 * mib})
			im.SetBlock(1, vb.PayloadFullyPresent, data)
			c.edit(im)
			img := openBytes(t, im.Bytes())
			wantCodes(t, img, c.codes)
			d := mustDisk(t, img)
			want := append([]byte(nil), data...)
			if img.Replay != nil {
				copy(want[8192:], bytes.Repeat([]byte{0x77}, 4096))
			}
			if got := readRange(t, d, mib, len(want)); !bytes.Equal(got, want) {
				t.Errorf("block 1: %s", firstDiff(got, want))
			}
		})
	}
}

// TestUnknownAndBadMetadata covers unknown regions and items, missing
// items and invalid item values: the findings, and whether Disk works.
func TestUnknownAndBadMetadata(t *testing.T) {
	unknown := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	metaOff := int64(vb.DefaultMetadataOffset)
	itemOff := metaOff + 64*kib // the file parameters item comes first
	cases := []struct {
		name  string
		edit  func(im *vb.Image)
		codes codes
		// sentinel is the error Disk must return (nil: Disk works), with
		// the structure and offset of the *FormatError.
		sentinel  error
		structure string
		offset    int64
	}{
		{name: "unknown_optional_region", edit: func(im *vb.Image) { im.AddRegion(unknown, 0, mib, false) },
			codes: codes{"region.unknown_optional": sevI}},
		{name: "unknown_required_region", edit: func(im *vb.Image) { im.AddRegion(unknown, 0, mib, true) },
			codes:    codes{"region.unknown_required": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrUnsupported, structure: "region table entry", offset: vb.RegionTable1Offset + 16 + 2*32},
		{name: "unknown_optional_item", edit: func(im *vb.Image) { im.AddMetadataItem(unknown, []byte("opaque"), 0) },
			codes: codes{"metadata.unknown_optional": sevI}},
		{name: "unknown_optional_user_item", edit: func(im *vb.Image) { im.AddMetadataItem(unknown, []byte("user data"), vb.MetaIsUser) },
			codes: codes{"metadata.unknown_optional": sevI}},
		{name: "unknown_required_item", edit: func(im *vb.Image) { im.AddMetadataItem(unknown, []byte("opaque"), vb.MetaIsRequired) },
			codes:    codes{"metadata.unknown_required": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrUnsupported, structure: "metadata entry", offset: metaOff + 32 + 5*32},
		{name: "missing_file_parameters", edit: func(im *vb.Image) { im.RemoveMetadataItem(vb.FileParametersGUID) },
			codes:    codes{"metadata.missing": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "metadata table", offset: metaOff},
		{name: "missing_virtual_size", edit: func(im *vb.Image) { im.RemoveMetadataItem(vb.VirtualDiskSizeGUID) },
			codes:    codes{"metadata.missing": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "metadata table", offset: metaOff},
		{name: "missing_logical_sector_size", edit: func(im *vb.Image) { im.RemoveMetadataItem(vb.LogicalSectorSizeGUID) },
			codes:    codes{"metadata.missing": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "metadata table", offset: metaOff},
		// The reader does not need these two to read data.
		{name: "missing_page83", edit: func(im *vb.Image) { im.RemoveMetadataItem(vb.VirtualDiskIDGUID) },
			codes: codes{"metadata.missing": sevE}},
		{name: "missing_physical_sector_size", edit: func(im *vb.Image) { im.RemoveMetadataItem(vb.PhysicalSectorSizeGUID) },
			codes: codes{"metadata.missing": sevE}},
		{name: "block_size_3MiB", edit: func(im *vb.Image) { setItem(im, vb.FileParametersGUID, vb.EncodeFileParameters(3*mib, 0)) },
			codes:    codes{"metadata.block_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "file parameters", offset: itemOff},
		{name: "block_size_512KiB", edit: func(im *vb.Image) { setItem(im, vb.FileParametersGUID, vb.EncodeFileParameters(512*kib, 0)) },
			codes:    codes{"metadata.block_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "file parameters", offset: itemOff},
		{name: "block_size_512MiB", edit: func(im *vb.Image) { setItem(im, vb.FileParametersGUID, vb.EncodeFileParameters(512*mib, 0)) },
			codes:    codes{"metadata.block_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "file parameters", offset: itemOff},
		{name: "file_parameters_4_bytes", edit: func(im *vb.Image) { setItem(im, vb.FileParametersGUID, vb.EncodeU32(mib)) },
			codes:    codes{"metadata.item_size": sevE, "metadata.block_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "file parameters", offset: itemOff},
		{name: "logical_sector_1024", edit: func(im *vb.Image) { setItem(im, vb.LogicalSectorSizeGUID, vb.EncodeU32(1024)) },
			codes:    codes{"metadata.logical_sector_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "logical sector size", offset: itemOff + 8 + 8 + 16},
		{name: "physical_sector_1024", edit: func(im *vb.Image) { setItem(im, vb.PhysicalSectorSizeGUID, vb.EncodeU32(1024)) },
			codes: codes{"metadata.physical_sector_size": sevE}},
		{name: "virtual_size_zero", edit: func(im *vb.Image) { setItem(im, vb.VirtualDiskSizeGUID, vb.EncodeU64(0)) },
			codes:    codes{"metadata.virtual_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "virtual disk size", offset: itemOff + 8},
		{name: "virtual_size_over_64TiB", edit: func(im *vb.Image) { setItem(im, vb.VirtualDiskSizeGUID, vb.EncodeU64(64*tib+mib)) },
			codes:    codes{"metadata.virtual_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "virtual disk size", offset: itemOff + 8},
		{name: "virtual_size_not_sector_multiple", edit: func(im *vb.Image) { setItem(im, vb.VirtualDiskSizeGUID, vb.EncodeU64(4*mib+100)) },
			codes:    codes{"metadata.virtual_size": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "virtual disk size", offset: itemOff + 8},
		{name: "known_item_not_required", edit: func(im *vb.Image) { im.MetadataItem(vb.VirtualDiskIDGUID).Flags = vb.MetaIsVirtualDisk },
			codes: codes{"metadata.not_required": sevW}},
		{name: "item_reserved_flags", edit: func(im *vb.Image) { im.MetadataItem(vb.VirtualDiskIDGUID).Flags |= 0x100 },
			codes: codes{"metadata.flags_reserved": sevW}},
		{name: "duplicate_item", edit: func(im *vb.Image) {
			im.AddMetadataItem(vb.PhysicalSectorSizeGUID, vb.EncodeU32(4096), vb.MetaIsVirtualDisk|vb.MetaIsRequired)
		}, codes: codes{"metadata.duplicate": sevE}},
		{name: "parent_locator_without_parent", edit: func(im *vb.Image) {
			im.AddMetadataItem(vb.ParentLocatorGUID, vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, []vb.KeyValue{
				{Key: "parent_linkage", Value: vb.FormatParentLinkage(vb.DefaultParentLinkage)}, {Key: "relative_path", Value: "p.vhdx"}}), vb.MetaIsRequired)
		}, codes: codes{"metadata.parent_locator_unexpected": sevE}},
		{name: "items_overlap", edit: func(im *vb.Image) {
			it := im.MetadataItem(vb.VirtualDiskIDGUID)
			it.Explicit, it.Offset, it.Length = true, 64*kib+4, 16 // over file parameters and virtual size
			it.Data = nil
		}, codes: codes{"metadata.overlap": sevE}},
		{name: "zero_length_item_with_offset", edit: func(im *vb.Image) {
			im.Metadata.Items = append(im.Metadata.Items, vb.MetadataItem{ID: unknown, Explicit: true, Offset: 128 * kib, Length: 0})
		}, codes: codes{"metadata.zero_length_offset": sevE, "metadata.unknown_optional": sevI}},
		{name: "unknown_item_outside_region", edit: func(im *vb.Image) {
			im.Metadata.Items = append(im.Metadata.Items, vb.MetadataItem{ID: unknown, Explicit: true, Offset: mib - 8, Length: 64})
		}, codes: codes{"metadata.item_bounds": sevE, "metadata.unknown_optional": sevI}},
		{name: "known_item_in_table_area", edit: func(im *vb.Image) {
			it := im.MetadataItem(vb.VirtualDiskIDGUID)
			it.Explicit, it.Offset, it.Length = true, 1024, 16
		}, codes: codes{"metadata.item_bounds": sevE}},
		{name: "bad_table_signature", edit: func(im *vb.Image) { im.Metadata.Signature = "METADATA" },
			codes:    codes{"metadata.table": sevE, "disk.unreadable": sevE},
			sentinel: vhdx.ErrCorrupt, structure: "metadata table", offset: metaOff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: 4 * mib})
			data := pattern(3000, 8)
			im.SetBlock(2, vb.PayloadFullyPresent, data)
			c.edit(im)
			img := openBytes(t, im.Bytes())
			wantCodes(t, img, c.codes)
			d, err := img.Disk()
			if c.sentinel != nil {
				if d != nil {
					t.Errorf("Disk returned a disk with error %v", err)
				}
				wantFormatErr(t, err, c.sentinel, c.structure, c.offset)
				return
			}
			if err != nil {
				t.Fatalf("Disk: %v", err)
			}
			if got := readRange(t, d, 2*mib, 3000); !bytes.Equal(got, data) {
				t.Errorf("data: %s", firstDiff(got, data))
			}
		})
	}
}

// setItem replaces the data of the first metadata item with that GUID,
// keeping its flags.
func setItem(im *vb.Image, id uuid.UUID, data []byte) {
	it := im.MetadataItem(id)
	it.Data = data
}

// TestHeaders covers header corruption and the choice of the current header.
func TestHeaders(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(im *vb.Image)
		codes   codes
		current int
		reason  []string // substrings of CurrentReason
	}{
		{"h1_higher", func(im *vb.Image) { im.Headers[0].SequenceNumber = 5; im.Headers[1].SequenceNumber = 3 },
			codes{}, 0, []string{"header 1 has the higher"}},
		{"h2_higher", func(im *vb.Image) { im.Headers[0].SequenceNumber = 3; im.Headers[1].SequenceNumber = 5 },
			codes{}, 1, []string{"header 2 has the higher"}},
		{"equal", func(im *vb.Image) { im.Headers[0].SequenceNumber = 4; im.Headers[1].SequenceNumber = 4 },
			codes{"header.equal_sequence": sevI}, 0, []string{"equal sequence numbers", "header 1 is used"}},
		{"h1_checksum_h1_higher", func(im *vb.Image) { im.Headers[0].SequenceNumber = 9; im.Headers[0].BadChecksum = true },
			codes{"header.checksum": sevE}, 1, []string{"header 1 is invalid", "checksum"}},
		{"h2_checksum_h2_higher", func(im *vb.Image) { im.Headers[1].BadChecksum = true },
			codes{"header.checksum": sevE}, 0, []string{"header 2 is invalid", "checksum"}},
		{"h1_signature", func(im *vb.Image) { im.Headers[0].SequenceNumber = 9; im.Headers[0].Signature = "HEAD" },
			codes{"header.signature": sevE}, 1, []string{"header 1 is invalid", "signature"}},
		{"h1_omitted", func(im *vb.Image) { im.Headers[0].Omit = true },
			codes{"header.signature": sevE}, 1, []string{"header 1 is invalid"}},
		{"h2_version_2", func(im *vb.Image) { im.Headers[1].Version = 2 },
			codes{"header.version": sevE}, 0, []string{"header 2 is invalid", "version 2"}},
		{"h2_log_version_1", func(im *vb.Image) { im.Headers[1].LogVersion = 1 },
			codes{"header.log_version": sevE}, 1, []string{"header 2 has the higher"}},
		{"h1_log_misaligned", func(im *vb.Image) { im.Headers[0].LogOffset = mib + 4096 },
			codes{"header.log_alignment": sevE}, 1, []string{"header 2 has the higher"}},
		{"log_guids_differ", func(im *vb.Image) {
			im.Headers[0].LogGUID = uuid.MustParse("01010101-0101-0101-0101-010101010101")
			im.Headers[1].LogGUID = uuid.MustParse("02020202-0202-0202-0202-020202020202")
		}, codes{"header.log_guid_differs": sevI, "log.unusable": sevW}, 1, []string{"header 2 has the higher"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: 4 * mib})
			data := pattern(4096, 4)
			im.SetBlock(0, vb.PayloadFullyPresent, data)
			c.edit(im)
			img := openBytes(t, im.Bytes())
			wantCodes(t, img, c.codes)
			if img.Current != c.current || img.CurrentHeader() != img.Headers[c.current] {
				t.Errorf("current header %d, want %d (%s)", img.Current, c.current, img.CurrentReason)
			}
			for _, s := range c.reason {
				if !strings.Contains(img.CurrentReason, s) {
					t.Errorf("CurrentReason %q lacks %q", img.CurrentReason, s)
				}
			}
			for i, h := range img.Headers {
				if h.Offset != int64(64*kib*(i+1)) || h.Length != 4096 {
					t.Errorf("header %d at %d (%d bytes)", i+1, h.Offset, h.Length)
				}
			}
			if got := readRange(t, mustDisk(t, img), 0, 4096); !bytes.Equal(got, data) {
				t.Errorf("data: %s", firstDiff(got, data))
			}
		})
	}

	t.Run("both_corrupt", func(t *testing.T) {
		im := vb.New(vb.Options{})
		im.Headers[0].BadChecksum = true
		im.Headers[1].Signature = "xxxx"
		b := im.Bytes()
		img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
		wantFormatErr(t, err, vhdx.ErrHeadersCorrupt, "headers", vb.Header1Offset)
		if img == nil {
			t.Fatal("no partial image")
		}
		if img.Identifier == nil || img.Identifier.Signature != "vhdxfile" || img.Identifier.Creator != "vhdxbuild" {
			t.Errorf("identifier %+v", img.Identifier)
		}
		if img.Headers[0] == nil || img.Headers[1] == nil || img.Headers[0].Valid || img.Headers[1].Valid || img.Regions != nil {
			t.Fatalf("partial image headers %+v %+v", img.Headers[0], img.Headers[1])
		}
		if img.Headers[0].Checksum == img.Headers[0].ComputedChecksum || img.Headers[0].SequenceNumber != 1 {
			t.Errorf("header 1 %+v", img.Headers[0])
		}
		wantCodes(t, img, codes{"header.checksum": sevE, "header.signature": sevE, "disk.unreadable": sevE})
		if _, err := img.Disk(); !errors.Is(err, vhdx.ErrHeadersCorrupt) {
			t.Errorf("Disk of a partial image: %v, want ErrHeadersCorrupt", err)
		}
	})
}

// TestRegionTables covers region table corruption and region placement.
func TestRegionTables(t *testing.T) {
	unknown := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	addRaw := func(im *vb.Image, e vb.RegionEntry) {
		for i := range im.RegionTables {
			im.RegionTables[i].Entries = append(im.RegionTables[i].Entries, e)
		}
	}
	cases := []struct {
		name   string
		edit   func(im *vb.Image)
		bytes  func(b []byte) // byte edits after serialisation
		codes  codes
		used   int    // index of the region table in use
		disk   error  // Disk's error, nil if it works
		struc  string // FormatError structure for disk
		offset int64
	}{
		{name: "rt1_checksum", edit: func(im *vb.Image) { im.RegionTables[0].BadChecksum = true },
			codes: codes{"region.checksum": sevE}, used: 1},
		{name: "rt2_checksum", edit: func(im *vb.Image) { im.RegionTables[1].BadChecksum = true },
			codes: codes{"region.checksum": sevE}, used: 0},
		{name: "rt1_signature", edit: func(im *vb.Image) { im.RegionTables[0].Signature = "REGI" },
			codes: codes{"region.signature": sevE}, used: 1},
		{name: "rt1_entry_count", bytes: func(b []byte) {
			le32(b[vb.RegionTable1Offset+8:], 3000)
			vb.FixRegionTableChecksum(b, vb.RegionTable1Offset)
		}, codes: codes{"region.entry_count": sevE}, used: 1},
		{name: "reserved_field", bytes: func(b []byte) {
			for _, off := range []int64{vb.RegionTable1Offset, vb.RegionTable2Offset} {
				b[off+12] = 1
				vb.FixRegionTableChecksum(b, off)
			}
		}, codes: codes{"region.reserved": sevW}},
		{name: "copies_differ", edit: func(im *vb.Image) {
			im.RegionTables[1].Entries = append(im.RegionTables[1].Entries, vb.RegionEntry{GUID: unknown, FileOffset: im.Allocate(mib), Length: mib})
		}, codes: codes{"region.copies_differ": sevE}},
		{name: "bat_overlaps_metadata", edit: func(im *vb.Image) {
			im.UpdateRegion(vb.MetadataRegionGUID, im.MetadataOffset, 2*mib) // [2, 4) MiB, BAT is [3, 4)
		}, codes: codes{"region.overlap": sevE}},
		{name: "region_overlaps_log", edit: func(im *vb.Image) {
			addRaw(im, vb.RegionEntry{GUID: unknown, FileOffset: mib, Length: mib})
		}, codes: codes{"region.overlap": sevE, "region.unknown_optional": sevI}},
		{name: "region_overlaps_header_section", edit: func(im *vb.Image) {
			addRaw(im, vb.RegionEntry{GUID: unknown, FileOffset: 0, Length: mib})
		}, codes: codes{"region.overlap": sevE, "region.unknown_optional": sevI}},
		{name: "misaligned_offset", edit: func(im *vb.Image) {
			off := im.Allocate(2 * mib)
			addRaw(im, vb.RegionEntry{GUID: unknown, FileOffset: off + 512*kib, Length: mib})
		}, codes: codes{"region.alignment": sevE, "region.unknown_optional": sevI}},
		{name: "misaligned_length", edit: func(im *vb.Image) {
			off := im.Allocate(2 * mib)
			addRaw(im, vb.RegionEntry{GUID: unknown, FileOffset: off, Length: mib + 4096})
		}, codes: codes{"region.alignment": sevE, "region.unknown_optional": sevI}},
		{name: "duplicate_bat", edit: func(im *vb.Image) {
			im.AddRegion(vb.BATRegionGUID, 0, mib, true) // new space at the end: no overlap
		}, codes: codes{"region.duplicate": sevE}},
		{name: "beyond_eof", edit: func(im *vb.Image) {
			addRaw(im, vb.RegionEntry{GUID: unknown, FileOffset: 64 * mib, Length: mib})
		}, codes: codes{"region.beyond_eof": sevE, "region.unknown_optional": sevI}},
		{name: "reserved_flags", edit: func(im *vb.Image) {
			for i := range im.RegionTables {
				im.RegionTables[i].Entries[0].Flags = 1 | 0x10
			}
		}, codes: codes{"region.flags_reserved": sevW}},
		{name: "missing_bat", edit: func(im *vb.Image) { im.RemoveRegion(vb.BATRegionGUID) },
			codes: codes{"region.missing": sevE, "disk.unreadable": sevE},
			disk:  vhdx.ErrCorrupt, struc: "region table", offset: vb.RegionTable1Offset},
		{name: "missing_metadata", edit: func(im *vb.Image) { im.RemoveRegion(vb.MetadataRegionGUID) },
			codes: codes{"region.missing": sevE, "disk.unreadable": sevE},
			disk:  vhdx.ErrCorrupt, struc: "region table", offset: vb.RegionTable1Offset},
		{name: "bat_too_small", edit: func(im *vb.Image) {
			// 4 MiB of 1 MiB blocks need 32 bytes of BAT; give the region 0 bytes... 1 MiB is the
			// minimum aligned length, so shrink to 16 bytes and accept the alignment finding.
			im.UpdateRegion(vb.BATRegionGUID, im.BATOffset, 16)
		}, codes: codes{"region.alignment": sevE, "disk.unreadable": sevE},
			disk: vhdx.ErrCorrupt, struc: "BAT region", offset: vb.DefaultBATOffset},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: 4 * mib})
			data := pattern(4096, 6)
			im.SetBlock(3, vb.PayloadFullyPresent, data)
			if c.edit != nil {
				c.edit(im)
			}
			b := im.Bytes()
			if c.bytes != nil {
				c.bytes(b)
			}
			img := openBytes(t, b)
			wantCodes(t, img, c.codes)
			if img.Regions != img.RegionTables[c.used] {
				t.Errorf("region table in use is at %d, want table %d", img.Regions.Offset, c.used+1)
			}
			d, err := img.Disk()
			if c.disk != nil {
				wantFormatErr(t, err, c.disk, c.struc, c.offset)
				return
			}
			if err != nil {
				t.Fatalf("Disk: %v", err)
			}
			if got := readRange(t, d, 3*mib, 4096); !bytes.Equal(got, data) {
				t.Errorf("data: %s", firstDiff(got, data))
			}
		})
	}

	t.Run("both_corrupt", func(t *testing.T) {
		im := vb.New(vb.Options{})
		im.RegionTables[0].BadChecksum = true
		im.RegionTables[1].Omit = true
		b := im.Bytes()
		img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
		wantFormatErr(t, err, vhdx.ErrRegionTablesCorrupt, "region tables", vb.RegionTable1Offset)
		if img == nil || img.Regions != nil || img.RegionTables[0] == nil || img.RegionTables[0].Valid || img.Current != 1 {
			t.Fatalf("partial image %+v", img)
		}
		if e := img.RegionTables[0].Entries; len(e) != 2 || e[0].GUID != vhdx.RegionBAT || e[0].Name != "BAT" || e[1].Name != "metadata" {
			t.Errorf("entries of the corrupt table not decoded: %+v", e)
		}
		wantCodes(t, img, codes{"region.checksum": sevE, "region.signature": sevE, "disk.unreadable": sevE})
		if _, err := img.Disk(); !errors.Is(err, vhdx.ErrRegionTablesCorrupt) {
			t.Errorf("Disk of a partial image: %v, want ErrRegionTablesCorrupt", err)
		}
	})
}

func le32(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }

// TestNotVHDX: anything without the identifier fails with ErrNotVHDX and
// no image.
func TestNotVHDX(t *testing.T) {
	valid := vb.New(vb.Options{}).Bytes()
	cases := map[string][]byte{
		"empty":        {},
		"100_bytes":    pattern(100, 1),
		"signature":    []byte("vhdxfile"),
		"zeros_1MiB":   make([]byte, mib),
		"random_2MiB":  pattern(2*mib, 2),
		"vhd":          append([]byte("conectix"), make([]byte, 64*kib)...),
		"wrong_case":   append([]byte("VHDXFILE"), valid[8:]...),
		"one_byte_off": append([]byte("vhdxfilf"), valid[8:]...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
			wantFormatErr(t, err, vhdx.ErrNotVHDX, "file type identifier", 0)
			if img != nil {
				t.Errorf("image returned for a non-VHDX")
			}
		})
	}
}

// TestTruncated cuts a valid image inside the header section, inside the
// BAT and inside a payload block.
func TestTruncated(t *testing.T) {
	im := vb.New(vb.Options{VirtualSize: 4 * mib})
	a, b := pattern(mib, 20), pattern(mib, 21)
	im.SetBlock(0, vb.PayloadFullyPresent, a) // at 4 MiB
	im.SetBlock(1, vb.PayloadFullyPresent, b) // at 5 MiB
	full := im.Bytes()
	if len(full) != 6*mib || im.Blocks[1].FileOffset != 5*mib {
		t.Fatalf("unexpected layout: %d bytes, block 1 at %d", len(full), im.Blocks[1].FileOffset)
	}

	for _, n := range []int{520, 64 * kib, 100 * kib, 300 * kib, mib - 1} {
		t.Run(fmt.Sprintf("header_section_%d", n), func(t *testing.T) {
			img, err := vhdx.Open(bytes.NewReader(full[:n]), int64(n))
			wantFormatErr(t, err, vhdx.ErrTruncated, "header section", 0)
			if img == nil || img.Identifier == nil || img.Identifier.Creator != "vhdxbuild" {
				t.Fatalf("partial image %+v", img)
			}
			if img.Headers[0] != nil || img.Current != -1 || img.CurrentHeader() != nil {
				t.Errorf("headers parsed from a cut header section")
			}
			wantCodes(t, img, codes{"disk.unreadable": sevE})
			if _, err := img.Disk(); !errors.Is(err, vhdx.ErrTruncated) {
				t.Errorf("Disk: %v, want ErrTruncated", err)
			}
		})
	}

	t.Run("inside_bat", func(t *testing.T) {
		cut := full[:vb.DefaultBATOffset+8]
		img := openBytes(t, cut)
		wantCodes(t, img, codes{"region.beyond_eof": sevE, "bat.unreadable": sevE})
		d := mustDisk(t, img)
		_, err := d.ReadAt(make([]byte, 10), 0)
		wantFormatErr(t, err, vhdx.ErrTruncated, "BAT", vb.DefaultBATOffset)
		if _, _, err := img.BAT.Counts(); !errors.Is(err, vhdx.ErrTruncated) {
			t.Errorf("Counts: %v", err)
		}
		if err := d.Extents(func(vhdx.Extent) error { return nil }); !errors.Is(err, vhdx.ErrTruncated) {
			t.Errorf("Extents: %v", err)
		}
	})

	t.Run("inside_payload", func(t *testing.T) {
		cut := full[:5*mib+256*kib]
		img := openBytes(t, cut)
		wantCodes(t, img, codes{"bat.beyond_eof": sevE})
		if f := findingsWith(img, "bat.beyond_eof"); len(f) != 1 || f[0].Offset != batEntryOffset(im, 1) {
			t.Errorf("bat.beyond_eof findings %+v", f)
		}
		d := mustDisk(t, img)
		if got := readRange(t, d, 0, mib); !bytes.Equal(got, a) {
			t.Errorf("block 0: %s", firstDiff(got, a))
		}
		if got := readRange(t, d, mib, 256*kib); !bytes.Equal(got, b[:256*kib]) {
			t.Errorf("block 1 head: %s", firstDiff(got, b[:256*kib]))
		}
		// From the end of block 0 to beyond the cut inside block 1: the
		// bytes of block 0 come back with the error.
		p := make([]byte, 300*kib)
		n, err := d.ReadAt(p, mib-100)
		if n != 100 || !bytes.Equal(p[:100], a[mib-100:]) {
			t.Errorf("read across the cut = %d bytes", n)
		}
		wantFormatErr(t, err, vhdx.ErrTruncated, "payload block 1", 5*mib)
		if _, err := d.ReadAt(p[:8192], mib+256*kib-100); !errors.Is(err, vhdx.ErrTruncated) {
			t.Errorf("read across the cut: %v", err)
		}
		if _, err := d.ReadAt(p[:10], 2*mib-10); !errors.Is(err, vhdx.ErrTruncated) {
			t.Errorf("read of the last bytes: %v", err)
		}
		if _, err := d.WriteTo(io.Discard); !errors.Is(err, vhdx.ErrTruncated) {
			t.Errorf("WriteTo: %v", err)
		}
	})
}

// TestBATProblems covers reserved bits, bad offsets and overlapping blocks.
func TestBATProblems(t *testing.T) {
	data := pattern(mib, 30)
	cases := []struct {
		name  string
		edit  func(im *vb.Image)
		codes codes
		check func(t *testing.T, im *vb.Image, d *vhdx.Disk)
	}{
		{"reserved_bits", func(im *vb.Image) {
			im.BATOverride[0] = vb.EncodeBATEntry(vb.PayloadFullyPresent, im.Blocks[0].FileOffset) | 0x5<<3
		}, codes{"bat.reserved_bits": sevW}, func(t *testing.T, im *vb.Image, d *vhdx.Disk) {
			if got := readRange(t, d, 0, mib); !bytes.Equal(got, data) {
				t.Errorf("block with reserved bits: %s", firstDiff(got, data))
			}
		}},
		{"present_at_offset_0", func(im *vb.Image) {
			im.BATOverride[1] = vb.EncodeBATEntry(vb.PayloadFullyPresent, 0)
		}, codes{"bat.offset_invalid": sevE}, func(t *testing.T, im *vb.Image, d *vhdx.Disk) {
			_, err := d.ReadAt(make([]byte, 512), mib)
			wantFormatErr(t, err, vhdx.ErrCorrupt, "BAT entry 1", batEntryOffset(im, 1))
		}},
		{"same_offset", func(im *vb.Image) {
			im.Block(1).State = vb.PayloadFullyPresent
			im.Block(1).FileOffset = im.Blocks[0].FileOffset
		}, codes{"bat.overlap_block": sevE}, func(t *testing.T, im *vb.Image, d *vhdx.Disk) {
			if got := readRange(t, d, mib, mib); !bytes.Equal(got, data) {
				t.Errorf("block 1 sharing block 0's space: %s", firstDiff(got, data))
			}
		}},
		{"over_metadata", func(im *vb.Image) {
			im.Block(1).State = vb.PayloadFullyPresent
			im.Block(1).FileOffset = im.MetadataOffset
		}, codes{"bat.overlap_structure": sevE}, func(t *testing.T, im *vb.Image, d *vhdx.Disk) {
			if got := readRange(t, d, mib, 8); string(got) != "metadata" {
				t.Errorf("block over the metadata region reads %q", got)
			}
		}},
		{"over_bat", func(im *vb.Image) {
			im.Block(1).State = vb.PayloadFullyPresent
			im.Block(1).FileOffset = im.BATOffset
		}, codes{"bat.overlap_structure": sevE}, nil},
		{"over_log", func(im *vb.Image) {
			im.Block(1).State = vb.PayloadFullyPresent
			im.Block(1).FileOffset = im.LogOffset
		}, codes{"bat.overlap_structure": sevE}, nil},
		{"beyond_eof", func(im *vb.Image) {
			im.BATOverride[2] = vb.EncodeBATEntry(vb.PayloadFullyPresent, 1<<40)
		}, codes{"bat.beyond_eof": sevE}, func(t *testing.T, im *vb.Image, d *vhdx.Disk) {
			_, err := d.ReadAt(make([]byte, 512), 2*mib)
			wantFormatErr(t, err, vhdx.ErrTruncated, "payload block 2", 1<<40)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(vb.Options{VirtualSize: 4 * mib})
			im.SetBlock(0, vb.PayloadFullyPresent, data)
			c.edit(im)
			img := openBytes(t, im.Bytes())
			wantCodes(t, img, c.codes)
			if c.check != nil {
				c.check(t, im, mustDisk(t, img))
			}
		})
	}

	// A block offset near the top of the signed range: offset plus block
	// size overflows int64. It still lies beyond the end of the file.
	t.Run("beyond_eof_overflow", func(t *testing.T) {
		im := vb.New(vb.Options{VirtualSize: 4 * mib, BlockSize: 2 * mib})
		const top = 1<<63 - mib
		im.BATOverride[1] = vb.EncodeBATEntry(vb.PayloadFullyPresent, top)
		img := openBytes(t, im.Bytes())
		wantCodes(t, img, codes{"bat.beyond_eof": sevE})
		d := mustDisk(t, img)
		for _, in := range []int64{0, mib, 2*mib - 512} {
			_, err := d.ReadAt(make([]byte, 512), 2*mib+in)
			if !errors.Is(err, vhdx.ErrTruncated) {
				t.Errorf("read at %d into the block: %v, want ErrTruncated", in, err)
			}
		}
	})
}

func TestBATReadEntries(t *testing.T) {
	im := vb.New(vb.Options{VirtualSize: 5 * mib})
	im.SetBlock(1, vb.PayloadFullyPresent, []byte{1})
	im.SetBlock(3, vb.PayloadZero, nil)
	f := buildSparse(t, im)
	img, err := vhdx.Open(f, im.Size())
	if err != nil {
		t.Fatal(err)
	}
	b := img.BAT
	p := make([]byte, 8*b.EntryCount)
	if err := b.ReadEntries(0, p); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < b.EntryCount; i++ {
		e, err := b.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint64(p[8*i:]); got != e.Raw {
			t.Errorf("entry %d: ReadEntries %#x, Entry %#x", i, got, e.Raw)
		}
	}
	if err := b.ReadEntries(1, p); err == nil {
		t.Error("ReadEntries past the last entry: no error")
	}
	if err := b.ReadEntries(0, p[:7]); err == nil {
		t.Error("ReadEntries of a partial entry: no error")
	}
}
