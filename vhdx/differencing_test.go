package vhdx_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/google/uuid"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// hyperVLocator is a parent locator as Hyper-V writes it: a parent_linkage2
// key holding the zero GUID, and an absolute path without the \\?\ prefix.
var hyperVLocator = []vb.KeyValue{
	{Key: "parent_linkage", Value: "{83c2f4a1-0f6b-4e3c-9d41-6b1c2a7e9f00}"},
	{Key: "parent_linkage2", Value: "{00000000-0000-0000-0000-000000000000}"},
	{Key: "relative_path", Value: `..\base\parent.vhdx`},
	{Key: "volume_path", Value: `\\?\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\VMs\base\parent.vhdx`},
	{Key: "absolute_win32_path", Value: `D:\VMs\base\pärent ☃.vhdx`},
}

// TestDifferencing: a differencing disk opens with every structure
// visible, its parent locator decoded, a clean Check, and Disk refuses it.
func TestDifferencing(t *testing.T) {
	im := vb.New(vb.Options{VirtualSize: 8 * mib, HasParent: true, ParentLocator: hyperVLocator})
	im.SetBlock(1, vb.PayloadPartiallyPresent, pattern(4096, 1))
	im.MarkSectorsPresent(2048, 8) // the first 4 KiB of block 1
	im.SetBlock(2, vb.PayloadFullyPresent, pattern(4096, 2))
	img, _ := openImage(t, im)
	wantCodes(t, img, codes{})

	m := img.Metadata
	if !m.HasParent || m.ParentLocator == nil || m.ParentLocator.LocatorType != vhdx.ParentLocatorVHDX || m.ParentLocator.KeyValueCount != 5 {
		t.Fatalf("metadata %+v locator %+v", m, m.ParentLocator)
	}
	plItem := im.Layout().MetadataItems[5]
	if m.ParentLocator.Offset != int64(im.MetadataOffset+plItem.Offset) {
		t.Errorf("locator at %d, want %d", m.ParentLocator.Offset, im.MetadataOffset+plItem.Offset)
	}
	for _, kv := range hyperVLocator {
		if v, ok := m.ParentLocator.Get(kv.Key); !ok || v != kv.Value {
			t.Errorf("Get(%q) = %q, %v; want %q", kv.Key, v, ok, kv.Value)
		}
	}
	if _, ok := m.ParentLocator.Get("parent_linkage3"); ok {
		t.Errorf("Get of a missing key succeeded")
	}
	if e := m.ParentLocator.Entries[0]; e.Offset != m.ParentLocator.Offset+20 || e.KeyLength != uint16(2*len("parent_linkage")) || e.KeyOffset != m.ParentLocator.Offset+20+12*5 {
		t.Errorf("first key/value entry %+v", e)
	}

	// BAT: ceil(8/4096) chunks of 4096 blocks plus a bitmap entry.
	if img.BAT.EntryCount != 4097 || img.BAT.ChunkRatio != 4096 || img.BAT.BlockCount != 8 {
		t.Errorf("BAT %+v", img.BAT)
	}
	if e, err := img.BAT.Block(1); err != nil || e.State != vhdx.PartiallyPresent {
		t.Errorf("block 1 %+v %v", e, err)
	}
	bm, err := img.BAT.Entry(img.BAT.BitmapIndex(0))
	if err != nil || !bm.SectorBitmap || bm.State != vhdx.SectorBitmapPresent || bm.Block != 0 || bm.FileOffset != int64(im.SectorBitmaps[0].FileOffset) {
		t.Errorf("sector bitmap entry %+v %v", bm, err)
	}
	blocks, bitmaps, err := img.BAT.Counts()
	if err != nil {
		t.Fatal(err)
	}
	var wb, wbm vhdx.StateCounts
	wb[vhdx.PartiallyPresent], wb[vhdx.FullyPresent], wb[vhdx.NotPresent] = 1, 1, 6
	wbm[vhdx.SectorBitmapPresent] = 1
	if blocks != wb || bitmaps != wbm {
		t.Errorf("Counts = %v %v, want %v %v (the BAT pads the last chunk; padding entries are not blocks)", blocks, bitmaps, wb, wbm)
	}

	_, err = img.Disk()
	wantFormatErr(t, err, vhdx.ErrParentRequired, "file parameters", int64(im.MetadataOffset)+64*kib)
	// The file itself stays readable for inspection.
	p := make([]byte, 8)
	if _, err := img.ReadFile(p, int64(im.MetadataOffset)); err != nil || string(p) != "metadata" {
		t.Errorf("ReadFile: %q %v", p, err)
	}
}

// TestDifferencingProblems covers sector bitmaps and parent locators.
func TestDifferencingProblems(t *testing.T) {
	locator := func(kvs ...vb.KeyValue) func(im *vb.Image) {
		return func(im *vb.Image) {
			setItem(im, vb.ParentLocatorGUID, vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, kvs))
		}
	}
	linkage := vb.KeyValue{Key: "parent_linkage", Value: vb.FormatParentLinkage(vb.DefaultParentLinkage)}
	path := vb.KeyValue{Key: "relative_path", Value: "p.vhdx"}
	cases := []struct {
		name  string
		opt   vb.Options
		edit  func(im *vb.Image)
		codes codes
		// disk is Disk's error (ErrParentRequired for differencing disks);
		// nil means it must work.
		disk error
	}{
		{"bitmap_in_non_differencing", vb.Options{VirtualSize: 4097 * mib}, func(im *vb.Image) {
			im.SetSectorBitmap(0, vb.SectorBitmapPresent, []byte{0xff})
		}, codes{"bat.sector_bitmap_not_differencing": sevE}, nil},
		{"partial_without_bitmap", vb.Options{HasParent: true}, func(im *vb.Image) {
			im.SetBlock(3, vb.PayloadPartiallyPresent, nil)
		}, codes{"bat.sector_bitmap_missing": sevE}, vhdx.ErrParentRequired},
		{"bitmap_state_invalid", vb.Options{HasParent: true}, func(im *vb.Image) {
			im.BATOverride[im.BitmapBATIndex(0)] = vb.EncodeBATEntry(vb.PayloadZero, 0)
		}, codes{"bat.sector_bitmap_state": sevE}, vhdx.ErrParentRequired},
		{"bitmap_beyond_eof", vb.Options{HasParent: true}, func(im *vb.Image) {
			im.BATOverride[im.BitmapBATIndex(0)] = vb.EncodeBATEntry(vb.SectorBitmapPresent, 1<<40)
		}, codes{"bat.beyond_eof": sevE}, vhdx.ErrParentRequired},
		{"no_parent_locator", vb.Options{HasParent: true}, func(im *vb.Image) {
			im.RemoveMetadataItem(vb.ParentLocatorGUID)
		}, codes{"metadata.parent_locator_missing": sevE}, vhdx.ErrParentRequired},
		{"no_linkage", vb.Options{HasParent: true}, locator(path),
			codes{"parent_locator.no_linkage": sevE}, vhdx.ErrParentRequired},
		{"bad_linkage", vb.Options{HasParent: true}, locator(vb.KeyValue{Key: "parent_linkage", Value: "not a guid"}, path),
			codes{"parent_locator.bad_linkage": sevE}, vhdx.ErrParentRequired},
		{"no_path", vb.Options{HasParent: true}, locator(linkage),
			codes{"parent_locator.no_path": sevE}, vhdx.ErrParentRequired},
		{"wrong_locator_type", vb.Options{HasParent: true}, func(im *vb.Image) {
			setItem(im, vb.ParentLocatorGUID, vb.EncodeParentLocator(uuid.MustParse("12345678-1234-1234-1234-123456789abc"), []vb.KeyValue{linkage, path}))
		}, codes{"parent_locator.invalid": sevE}, vhdx.ErrParentRequired},
		{"text_outside_item", vb.Options{HasParent: true}, func(im *vb.Image) {
			b := vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, []vb.KeyValue{linkage, path})
			binary.LittleEndian.PutUint32(b[20+12+4:], 4000) // value of entry 1
			setItem(im, vb.ParentLocatorGUID, b)
		}, codes{"parent_locator.invalid": sevE}, vhdx.ErrParentRequired},
		{"odd_text_length", vb.Options{HasParent: true}, func(im *vb.Image) {
			b := vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, []vb.KeyValue{linkage, path})
			binary.LittleEndian.PutUint16(b[20+12+10:], 5)
			setItem(im, vb.ParentLocatorGUID, b)
		}, codes{"parent_locator.invalid": sevE}, vhdx.ErrParentRequired},
		{"unpaired_surrogate", vb.Options{HasParent: true}, func(im *vb.Image) {
			b := vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, []vb.KeyValue{linkage, path})
			vo := binary.LittleEndian.Uint32(b[20+12+4:])
			binary.LittleEndian.PutUint16(b[vo:], 0xD800)
			setItem(im, vb.ParentLocatorGUID, b)
		}, codes{"parent_locator.invalid": sevE}, vhdx.ErrParentRequired},
		{"count_too_big", vb.Options{HasParent: true}, func(im *vb.Image) {
			b := vb.EncodeParentLocator(vb.VHDXParentLocatorTypeGUID, []vb.KeyValue{linkage, path})
			binary.LittleEndian.PutUint16(b[18:], 60000)
			setItem(im, vb.ParentLocatorGUID, b)
		}, codes{"parent_locator.invalid": sevE, "parent_locator.no_linkage": sevE, "parent_locator.no_path": sevE}, vhdx.ErrParentRequired},
		{"locator_too_short", vb.Options{HasParent: true}, func(im *vb.Image) {
			setItem(im, vb.ParentLocatorGUID, make([]byte, 12))
		}, codes{"parent_locator.invalid": sevE}, vhdx.ErrParentRequired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := vb.New(c.opt)
			c.edit(im)
			img, _ := openImage(t, im)
			wantCodes(t, img, c.codes)
			_, err := img.Disk()
			if c.disk == nil && err != nil || c.disk != nil && !errors.Is(err, c.disk) {
				t.Errorf("Disk: %v, want %v", err, c.disk)
			}
		})
	}

	t.Run("missing_bitmap_finding", func(t *testing.T) {
		im := vb.New(vb.Options{HasParent: true})
		im.SetBlock(3, vb.PayloadPartiallyPresent, nil)
		img, _ := openImage(t, im)
		f := findingsWith(img, "bat.sector_bitmap_missing")
		if idx := im.BitmapBATIndex(0); len(f) != 1 || f[0].Offset != batEntryOffset(im, idx) || f[0].Structure != "BAT entry 4096" {
			t.Errorf("finding %+v", f)
		}
	})

	t.Run("bitmap_not_differencing_reads", func(t *testing.T) {
		// The stray bitmap does not stop the disk from reading.
		im := vb.New(vb.Options{VirtualSize: 4097 * mib})
		im.SetSectorBitmap(0, vb.SectorBitmapPresent, []byte{0xff})
		data := pattern(4096, 9)
		im.SetBlock(4096, vb.PayloadFullyPresent, data) // BAT index 4097, after the bitmap entry
		img, _ := openImage(t, im)
		if got := readRange(t, mustDisk(t, img), 4096*mib, 4096); !bytes.Equal(got, data) {
			t.Errorf("block 4096: %s", firstDiff(got, data))
		}
		if e, _ := img.BAT.Block(4096); e.Index != 4097 {
			t.Errorf("block 4096 at BAT index %d", e.Index)
		}
	})
}

// TestHugeMetadataItem: an item length of almost 4 GiB in a metadata
// region that claims almost 4 GiB must not make the engine allocate or read
// that much (the spec caps items at 1 MiB), even when a log replay extends
// the file so far that the item lies inside it.
func TestHugeMetadataItem(t *testing.T) {
	for _, extend := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "log_extends_file"}[extend]
		t.Run(name, func(t *testing.T) {
			im := vb.New(vb.Options{HasParent: true})
			it := im.MetadataItem(vb.ParentLocatorGUID)
			it.Explicit, it.Offset, it.Length, it.Data = true, 128*kib, 0xF000_0000, nil
			im.UpdateRegion(vb.MetadataRegionGUID, im.MetadataOffset, 0xFFF0_0000)
			if extend {
				e := vb.NewLogEntry(3)
				e.LastFileOffset = 8 * gib
				im.AddLogEntry(e)
			}
			f := buildSparse(t, im)
			g := guard(t, f)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			img, err := vhdx.Open(g, f.Size())
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if extend && img.FileSize() != 8*gib {
				t.Fatalf("replayed file size %d", img.FileSize())
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*mib {
				t.Errorf("Open allocated %d MiB", alloc/mib)
			}
			if _, maxRead := g.stats(); maxRead > 64*mib {
				t.Errorf("Open made a single read of %d bytes", maxRead)
			}
			var item []vhdx.Finding
			for _, f := range img.Check() {
				if strings.HasPrefix(f.Code, "metadata.item_") && f.Severity == sevE {
					item = append(item, f)
				}
			}
			if len(item) != 1 || item[0].Offset != int64(im.MetadataOffset)+32+5*32 {
				t.Errorf("item findings %+v", item)
			}
			if img.Metadata.ParentLocator != nil {
				t.Errorf("a parent locator was decoded from an oversized item")
			}
		})
	}
}
