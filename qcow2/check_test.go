package qcow2

import (
	"encoding/binary"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// patch writes v big-endian (8, 4, 2 or 1 bytes wide) at off in the file.
func patch(t *testing.T, path string, off int64, width int, v uint64) {
	t.Helper()
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b[8-width:], off); err != nil {
		t.Fatal(err)
	}
}

// firstData returns the file offset of the L2 entry of guest cluster 0 and
// that entry.
func firstData(t *testing.T, img *Image) (int64, uint64) {
	t.Helper()
	e, at, err := img.l2Lookup(img.L1, 0)
	if err != nil || at == 0 {
		t.Fatalf("no L2 entry for cluster 0: %v", err)
	}
	return at, e.raw
}

// refcountAt returns the file offset of the 16-bit refcount of host
// cluster k (the image's first refcount block covers it).
func refcountAt(t *testing.T, img *Image, k int64) int64 {
	t.Helper()
	if img.Header.RefcountBits() != 16 {
		t.Fatal("the test images have 16-bit refcounts")
	}
	return int64(img.RefcountTable[0]) + 2*k
}

// TestCheckCorruptions edits qemu-made images and asserts the finding
// codes, and that the counts equal qemu-img check's.
func TestCheckCorruptions(t *testing.T) {
	cases := []struct {
		name  string
		opts  string
		edit  func(t *testing.T, path string, img *Image)
		codes []string
	}{
		{"clean", "", func(*testing.T, string, *Image) {}, nil},
		{"bitmaps", "", func(t *testing.T, path string, img *Image) {
			// Persistent dirty bitmaps: directory, tables and data clusters.
			disktest.Output(t, "qemu-img", "bitmap", "--add", path, "b0")
			disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 1 0 1M", path)
			disktest.Output(t, "qemu-img", "bitmap", "--add", path, "b1")
		}, nil},
		{"bitmap_leak", "", func(t *testing.T, path string, img *Image) {
			// Clearing the autoclear bit makes QEMU ignore the bitmaps:
			// their clusters leak.
			disktest.Output(t, "qemu-img", "bitmap", "--add", path, "b0")
			disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", "write -P 1 0 1M", path)
			patch(t, path, 88, 8, 0)
		}, []string{"refcount.leak"}},
		{"leak", "", func(t *testing.T, path string, img *Image) {
			// A new cluster at the end of the file, counted but unused.
			k := img.Size / img.Header.ClusterSize()
			if err := os.Truncate(path, (k+1)*img.Header.ClusterSize()); err != nil {
				t.Fatal(err)
			}
			patch(t, path, refcountAt(t, img, k), 2, 1)
		}, []string{"refcount.leak"}},
		{"zero_used", "", func(t *testing.T, path string, img *Image) {
			_, e := firstData(t, img)
			patch(t, path, refcountAt(t, img, int64(e&tableOffsetMask)/img.Header.ClusterSize()), 2, 0)
		}, []string{"refcount.zero_used", "l2.copied"}},
		{"too_low", "", func(t *testing.T, path string, img *Image) {
			// Two L2 entries point to one cluster with refcount 1.
			at, e := firstData(t, img)
			patch(t, path, at+8, 8, e)
		}, []string{"refcount.too_low"}},
		{"copied", "", func(t *testing.T, path string, img *Image) {
			at, e := firstData(t, img)
			patch(t, path, at, 8, e&^flagCopied)
		}, []string{"l2.copied"}},
		{"l2_unaligned", "", func(t *testing.T, path string, img *Image) {
			at, e := firstData(t, img)
			patch(t, path, at, 8, e+512)
		}, []string{"l2.unaligned", "refcount.too_low"}},
		{"l1_unaligned", "", func(t *testing.T, path string, img *Image) {
			// Inside the header cluster: the "L2 table" there reads the
			// refcount table's first entry as a data cluster entry.
			patch(t, path, int64(img.Header.L1TableOffset), 8, flagCopied|512)
		}, []string{"l1.unaligned", "l2.copied", "metadata.overlap", "refcount.leak", "refcount.too_low", "refcount_block.shared"}},
		{"l2_beyond_end", "", func(t *testing.T, path string, img *Image) {
			at, _ := firstData(t, img)
			patch(t, path, at, 8, flagCopied|uint64(img.Size+16*img.Header.ClusterSize()))
		}, []string{"l2.beyond_end", "l2.copied", "refcount.zero_used", "refcount.leak"}},
		{"refblock_unaligned", "", func(t *testing.T, path string, img *Image) {
			patch(t, path, int64(img.Header.RefcountTableOffset), 8, img.RefcountTable[0]+1024)
		}, []string{"refcount_table.unaligned", "refcount.unreadable"}},
		{"compressed_copied", "compressed", func(t *testing.T, path string, img *Image) {
			at, e := firstData(t, img)
			patch(t, path, at, 8, e|flagCopied)
		}, []string{"l2.compressed_copied"}},
		{"compressed_beyond_end", "compressed", func(t *testing.T, path string, img *Image) {
			at, e := firstData(t, img)
			off, _ := img.compressedDescriptor(e)
			patch(t, path, at, 8, e-uint64(off)+uint64(img.Size+3*img.Header.ClusterSize()))
		}, []string{"l2.compressed_beyond_end", "refcount.leak", "refcount.zero_used"}},
		{"refblock_beyond_end", "", func(t *testing.T, path string, img *Image) {
			patch(t, path, int64(img.Header.RefcountTableOffset)+8, 8, uint64(img.Size+64*img.Header.ClusterSize()))
		}, []string{"refcount_table.beyond_end"}},
		{"snapshot_l1_unaligned", "snapshot", func(t *testing.T, path string, img *Image) {
			patch(t, path, img.Snapshots[0].Offset, 8, img.Snapshots[0].L1TableOffset+512)
		}, []string{"snapshot.l1_unaligned", "refcount.leak"}},
		{"snapshot_l1_beyond_end", "snapshot", func(t *testing.T, path string, img *Image) {
			patch(t, path, img.Snapshots[0].Offset, 8, uint64(img.Size+4*img.Header.ClusterSize()))
		}, []string{"l1.beyond_end", "refcount.leak", "refcount.zero_used"}},
		{"dirty", "lazy_refcounts=on", func(t *testing.T, path string, img *Image) {
			patch(t, path, 72, 8, img.Header.IncompatibleFeatures|IncompatDirty)
			_, e := firstData(t, img)
			patch(t, path, refcountAt(t, img, int64(e&tableOffsetMask)/img.Header.ClusterSize()), 2, 0)
		}, []string{"header.dirty", "refcount.zero_used", "l2.copied"}},
		{"corrupt_bit", "", func(t *testing.T, path string, img *Image) {
			patch(t, path, 72, 8, img.Header.IncompatibleFeatures|IncompatCorrupt)
		}, []string{"header.corrupt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "x.qcow2")
			if c.opts == "compressed" {
				src := filepath.Join(dir, "src.qcow2")
				disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", src, "4M")
				patterns(t, src, 4<<20, 0)
				disktest.Output(t, "qemu-img", "convert", "-c", "-O", "qcow2", src, path)
			} else {
				args := []string{"create", "-q", "-f", "qcow2"}
				if c.opts != "" && c.opts != "snapshot" {
					args = append(args, "-o", c.opts)
				}
				disktest.Output(t, "qemu-img", append(args, path, "4M")...)
				patterns(t, path, 4<<20, 0)
			}
			if c.opts == "snapshot" {
				disktest.Output(t, "qemu-img", "snapshot", "-c", "s", path)
				patterns(t, path, 4<<20, 1)
			}
			c.edit(t, path, openImage(t, path))
			rep := openImage(t, path).CheckReport()
			var codes []string
			for _, f := range rep.Findings {
				if !slices.Contains(codes, f.Code) {
					codes = append(codes, f.Code)
				}
			}
			slices.Sort(codes)
			want := slices.Clone(c.codes)
			slices.Sort(want)
			if !slices.Equal(codes, want) {
				t.Errorf("codes %v, want %v", codes, want)
			}
			q := runQemuCheck(t, path)
			if rep.Leaks != q.Leaks || rep.Corruptions != q.Corruptions || rep.CheckErrors != q.CheckErrors {
				t.Errorf("leaks %d corruptions %d check-errors %d; qemu-img check %+v", rep.Leaks, rep.Corruptions, rep.CheckErrors, q)
			}
		})
	}
}
