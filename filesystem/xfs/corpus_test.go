package xfs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"github.com/vhdx-inspector/vhdx-inspector/partition"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// TestCorpusXFS reads the XFS v5 filesystem of the corpus image xfs5.vhdx
// (made by Windows and Linux, from DiscUtils' test data) and compares its
// listings and a sample of inodes with xfs_db reading the partition.
func TestCorpusXFS(t *testing.T) {
	disktest.Need(t, "xfs_db")
	gz := filepath.Join("..", "..", "..", "shared", "corpus", "xfs5.vhdx.gz")
	if _, err := os.Stat(gz); err != nil {
		t.Skipf("corpus image %s not found: %v", gz, err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "xfs5.vhdx")
	unpack(t, gz, img)
	f, size := disktest.Open(t, img)
	vi, err := vdisk.Open(f, size, img, vdisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := vi.OpenDisk(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	table, err := partition.Read(disk, disk.Size(), 512)
	if err != nil || len(table.Partitions) != 1 {
		t.Fatalf("partitions: %v, %v", table, err)
	}
	p := table.Partitions[0]
	sec := table.Section(disk, p)
	fsys, err := Open(sec, sec.Size())
	if err != nil {
		t.Fatal(err)
	}
	got := fstest.Entries(t, fsys)
	if len(got) < 1000 {
		t.Fatalf("%d entries", len(got))
	}

	// The partition as a sparse file for xfs_db: only the disk's data
	// ranges are written.
	raw := filepath.Join(dir, "part.raw")
	out, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := out.Truncate(p.Length); err != nil {
		t.Fatal(err)
	}
	err = disk.DataRanges(func(off, n int64) error {
		lo, hi := max(off, p.Start), min(off+n, p.End())
		if lo >= hi {
			return nil
		}
		_, err := io.Copy(io.NewOffsetWriter(out, lo-p.Start), io.NewSectionReader(disk, lo, hi-lo))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dbListing(t, raw, "/", got)
	var paths []string
	for q := range got {
		paths = append(paths, q)
	}
	sort.Strings(paths)
	sample := map[string]filesystem.Entry{}
	for i, q := range paths {
		if i%20 == 0 || filepath.Dir(q) == "/" {
			sample[q] = got[q]
		}
	}
	dbInodes(t, raw, sample, true)
}

func unpack(t *testing.T, gz, dst string) {
	b, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := io.Copy(w, zr); err != nil {
		t.Fatal(err)
	}
}
