package vhdx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// wtGeometries are the shapes the create and write tests cover.
var wtGeometries = []CreateOptions{
	{VirtualSize: 8 * mib},
	{VirtualSize: 8 * mib, Fixed: true},
	{VirtualSize: 100*mib + 512, BlockSize: 1 * mib},
	{VirtualSize: 100*mib + 512, BlockSize: 1 * mib, Fixed: true},
	{VirtualSize: 3*mib + 4096, BlockSize: 2 * mib, LogicalSectorSize: 4096, PhysicalSectorSize: 4096},
	{VirtualSize: 3*mib + 4096, BlockSize: 2 * mib, LogicalSectorSize: 4096, Fixed: true},
	{VirtualSize: 1 * gib, BlockSize: 256 * mib, PhysicalSectorSize: 512},
	{VirtualSize: 1*gib - 512, BlockSize: 256 * mib, Fixed: true},
	{VirtualSize: 5*gib + 3*mib, BlockSize: 1 * mib, LogSize: 4 * mib},        // two sector bitmap entries interleaved
	{VirtualSize: 40 * gib, BlockSize: 1 * mib, LogicalSectorSize: 4096},      // chunk ratio 32768, crosses one chunk
	{VirtualSize: 127 * gib, BlockSize: 64 * mib, Creator: "création ☃ test"}, // Windows-like
	{VirtualSize: 2 * tib, BlockSize: 32 * mib, LogicalSectorSize: 4096},
}

const gib = 1 << 30

// wtCheckCreated checks a freshly created image against its options.
func wtCheckCreated(t *testing.T, img *Image, size int64, opt CreateOptions) {
	t.Helper()
	wtClean(t, img)
	l, err := opt.plan()
	if err != nil {
		t.Fatal(err)
	}
	m := img.Metadata
	if m.VirtualSize != l.virtualSize || m.BlockSize != l.blockSize || m.LogicalSectorSize != l.lss || m.PhysicalSectorSize != l.pss ||
		m.LeaveBlocksAllocated != opt.Fixed || m.HasParent != (opt.Parent != nil) {
		t.Errorf("metadata %+v, want %+v", m, l)
	}
	if m.Page83 == uuid.Nil {
		t.Errorf("page 83 data is zero")
	}
	if img.Identifier.Creator != l.creator {
		t.Errorf("creator %q, want %q", img.Identifier.Creator, l.creator)
	}
	h0, h1 := img.Headers[0], img.Headers[1]
	if !h0.Valid || !h1.Valid || h0.SequenceNumber == h1.SequenceNumber || h0.FileWriteGUID != h1.FileWriteGUID ||
		h0.DataWriteGUID != h1.DataWriteGUID || h0.LogGUID != uuid.Nil || h1.LogGUID != uuid.Nil ||
		h0.LogOffset != mib || uint64(h0.LogLength) != l.logLength {
		t.Errorf("headers %+v %+v", h0, h1)
	}
	for _, rt := range img.RegionTables {
		if !rt.Valid || len(rt.Entries) != 2 || !rt.Entries[0].Required || !rt.Entries[1].Required {
			t.Errorf("region table %+v", rt)
		}
	}
	if img.BAT.EntryCount != l.entryCount || uint64(img.BAT.Length) != roundUp(8*l.entryCount, mib) {
		t.Errorf("BAT %d entries, %d bytes; want %d", img.BAT.EntryCount, img.BAT.Length, l.entryCount)
	}
	blocks := (l.virtualSize + uint64(l.blockSize) - 1) / uint64(l.blockSize)
	wantSize := img.BAT.Offset + img.BAT.Length
	if opt.Fixed {
		wantSize += int64(blocks) * int64(l.blockSize)
	}
	if size != wantSize {
		t.Errorf("file is %d bytes, want %d", size, wantSize)
	}
	counts, bitmaps, err := img.BAT.Counts()
	if err != nil {
		t.Fatal(err)
	}
	want := NotPresent
	if opt.Fixed {
		want = FullyPresent
	}
	if counts[want] != blocks || bitmaps[NotPresent] != img.BAT.EntryCount-blocks-wtPadding(img.BAT) {
		t.Errorf("counts %v bitmaps %v, want %d blocks %s", counts, bitmaps, blocks, want)
	}
	if opt.Fixed {
		var next int64 = img.BAT.Offset + img.BAT.Length
		for _, n := range []uint64{0, blocks / 2, blocks - 1} {
			e, err := img.BAT.Block(n)
			if err != nil || e.FileOffset != next+int64(n)*int64(l.blockSize) {
				t.Errorf("block %d at %d (%v), want %d", n, e.FileOffset, err, next+int64(n)*int64(l.blockSize))
			}
		}
	}
}

// wtPadding counts the BAT entries that are neither blocks nor bitmaps:
// the unused payload positions of a differencing disk's last chunk.
func wtPadding(b *BAT) uint64 {
	bitmaps := b.EntryCount / (b.ChunkRatio + 1)
	return b.EntryCount - bitmaps - b.BlockCount
}

func TestCreateGeometries(t *testing.T) {
	for _, opt := range wtGeometries {
		t.Run(fmt.Sprintf("%d-%d-%d-fixed=%t", opt.VirtualSize, opt.BlockSize, opt.LogicalSectorSize, opt.Fixed), func(t *testing.T) {
			f := wtCreate(t, opt)
			img := wtOpen(t, f)
			wtCheckCreated(t, img, f.Size(), opt)
			d, err := img.Disk()
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			for _, off := range []int64{0, d.Size() / 2 &^ 4095, d.Size() - 4096} {
				if _, err := d.ReadAt(buf, off); err != nil || !isZero(buf) {
					t.Errorf("read at %d: %v, zero=%t", off, err, isZero(buf))
				}
			}
		})
	}
}

// TestCreate64TiB creates the largest dynamic disk with the smallest
// blocks (a 512 MiB BAT) in a sparse temporary file.
func TestCreate64TiB(t *testing.T) {
	for _, lss := range []uint32{512, 4096} {
		if testing.Short() && lss == 4096 {
			continue
		}
		t.Run(fmt.Sprint(lss), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "huge.vhdx")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opt := CreateOptions{VirtualSize: 64 * tib, BlockSize: 1 * mib, LogicalSectorSize: lss}
			start := time.Now()
			if err := Create(f, opt); err != nil {
				t.Fatal(err)
			}
			created := time.Since(start)
			fi, _ := f.Stat()
			img, err := Open(f, fi.Size())
			if err != nil {
				t.Fatal(err)
			}
			wtCheckCreated(t, img, fi.Size(), opt)
			if created > 5*time.Second {
				t.Errorf("Create took %v", created)
			}
			t.Logf("64 TiB: %d BAT entries, file %d bytes, created in %v", img.BAT.EntryCount, fi.Size(), created)

			// Writing the last and first sectors allocates two blocks.
			w, err := OpenWriter(f, fi.Size())
			if err != nil {
				t.Fatal(err)
			}
			last := wtPattern(int(lss), 7)
			if _, err := w.WriteAt(last, 64*tib-int64(lss)); err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteAt(last, 0); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			fi, _ = f.Stat()
			img, err = Open(f, fi.Size())
			if err != nil {
				t.Fatal(err)
			}
			wtClean(t, img)
			d, _ := img.Disk()
			buf := make([]byte, lss)
			for _, off := range []int64{0, 64*tib - int64(lss)} {
				if _, err := d.ReadAt(buf, off); err != nil || string(buf) != string(last) {
					t.Errorf("read back at %d: %v", off, err)
				}
			}
			if fi.Size() != img.BAT.Offset+img.BAT.Length+2*mib {
				t.Errorf("file is %d bytes after two 1 MiB allocations", fi.Size())
			}
		})
	}
}

func TestCreateDifferencing(t *testing.T) {
	for _, lss := range []uint32{512, 4096} {
		t.Run(fmt.Sprint(lss), func(t *testing.T) {
			pf := wtCreate(t, CreateOptions{VirtualSize: 300*mib + uint64(lss), BlockSize: 2 * mib, LogicalSectorSize: lss, PhysicalSectorSize: 512})
			parent := wtOpen(t, pf)
			info := &ParentInfo{Image: parent, RelativePath: `..\base\parent ☃.vhdx`, AbsoluteWin32Path: `C:\VMs\base\parent ☃.vhdx`, VolumePath: `\\?\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\VMs\base\parent ☃.vhdx`}
			opt := CreateOptions{Parent: info}
			cf := wtCreate(t, opt)
			child := wtOpen(t, cf)
			wtCheckCreated(t, child, cf.Size(), opt)
			pl := child.Metadata.ParentLocator
			if pl == nil || pl.LocatorType != ParentLocatorVHDX {
				t.Fatalf("parent locator %+v", pl)
			}
			want := map[string]string{
				"parent_linkage":      "{" + parent.CurrentHeader().DataWriteGUID.String() + "}",
				"relative_path":       info.RelativePath,
				"absolute_win32_path": info.AbsoluteWin32Path,
				"volume_path":         info.VolumePath,
			}
			if len(pl.Entries) != len(want) {
				t.Errorf("%d locator entries, want %d", len(pl.Entries), len(want))
			}
			for k, v := range want {
				if got, ok := pl.Get(k); !ok || got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if child.Metadata.PhysicalSectorSize != 512 || child.Metadata.BlockSize != 2*mib {
				t.Errorf("child did not inherit physical sector and block size: %+v", child.Metadata)
			}
			// Every block reads from the parent (all zeros here).
			buf := make([]byte, 2*lss)
			if err := wtRead(child, wtChain(parent), buf, 300*mib-int64(lss)); err != nil || !isZero(buf) {
				t.Errorf("chain read: %v", err)
			}
			if _, err := child.Disk(); !errors.Is(err, ErrParentRequired) {
				t.Errorf("Disk of a child: %v", err)
			}
			// Only a relative path is enough; a grandchild of a child works.
			gf := wtCreate(t, CreateOptions{Parent: &ParentInfo{Image: child, RelativePath: "child.vhdx"}, BlockSize: 1 * mib})
			g := wtOpen(t, gf)
			wtClean(t, g)
			if v, _ := g.Metadata.ParentLocator.Get("parent_linkage"); v != "{"+child.CurrentHeader().DataWriteGUID.String()+"}" {
				t.Errorf("grandchild linkage %s", v)
			}
		})
	}
}

func TestCreateInvalidOptions(t *testing.T) {
	parent := wtOpen(t, wtCreate(t, CreateOptions{VirtualSize: 16 * mib, LogicalSectorSize: 4096}))
	bad := map[string]CreateOptions{
		"no size":           {},
		"size not sector":   {VirtualSize: 1*mib + 100},
		"size 4K sector":    {VirtualSize: 1*mib + 512, LogicalSectorSize: 4096},
		"too big":           {VirtualSize: 64*tib + 512},
		"block 512 KiB":     {VirtualSize: mib, BlockSize: 512 * kib},
		"block 3 MiB":       {VirtualSize: mib, BlockSize: 3 * mib},
		"block 512 MiB":     {VirtualSize: mib, BlockSize: 512 * mib},
		"sector 1024":       {VirtualSize: mib, LogicalSectorSize: 1024},
		"physical 1024":     {VirtualSize: mib, PhysicalSectorSize: 1024},
		"log 1.5 MiB":       {VirtualSize: mib, LogSize: 3 * mib / 2},
		"fixed child":       {Fixed: true, Parent: &ParentInfo{Image: parent, RelativePath: "p"}},
		"child no path":     {Parent: &ParentInfo{Image: parent}},
		"child no image":    {Parent: &ParentInfo{RelativePath: "p"}},
		"child size":        {VirtualSize: 32 * mib, Parent: &ParentInfo{Image: parent, RelativePath: "p"}},
		"child sector":      {LogicalSectorSize: 512, Parent: &ParentInfo{Image: parent, RelativePath: "p"}},
		"creator too long":  {VirtualSize: mib, Creator: string(make([]rune, 300))},
		"locator too large": {Parent: &ParentInfo{Image: parent, RelativePath: string(make([]byte, 40000))}},
	}
	for name, opt := range bad {
		f := newWTFile()
		if err := Create(f, opt); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: Create = %v, want ErrInvalidOptions", name, err)
		}
		if f.Size() != 0 {
			t.Errorf("%s: file written although the options are invalid", name)
		}
	}
}

// TestCreateTruncates: Create over an existing, longer file leaves exactly
// the new image.
func TestCreateTruncates(t *testing.T) {
	f := newWTFile()
	f.WriteAt(wtPattern(20*mib, 1), 0)
	opt := CreateOptions{VirtualSize: 10 * mib, BlockSize: 1 * mib}
	if err := Create(f, opt); err != nil {
		t.Fatal(err)
	}
	img := wtOpen(t, f)
	wtCheckCreated(t, img, f.Size(), opt)
	d, _ := img.Disk()
	wtCompare(t, func(p []byte, off int64) error { _, err := d.ReadAt(p, off); return err }, make([]byte, 10*mib))
}
