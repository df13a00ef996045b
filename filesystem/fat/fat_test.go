package fat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// makeFAT formats a FAT image with mkfs.fat (args choose the variant) and
// fills it with mtools: short and long names, Unicode, a subdirectory with
// a multi-cluster file, a read-only and a hidden file, and two deleted
// files (one with a long name).
func makeFAT(t *testing.T, kib string, args ...string) string {
	dir := t.TempDir()
	img := filepath.Join(dir, "fat.img")
	disktest.Output(t, "mkfs.fat", append(append([]string{"-C"}, args...), img, kib)...)
	src := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := make([]byte, 300_017)
	for i := range big {
		big[i] = byte(i*31 + i>>8)
	}
	mtools := func(cmd string, args ...string) {
		disktest.Output(t, cmd, append([]string{"-i", img}, args...)...)
	}
	mtools("mcopy", src("a", []byte("hello\n")), "::/HELLO.TXT")
	mtools("mcopy", src("b", []byte("lower\n")), "::/lower.txt")
	mtools("mmd", "::/Sub Dir")
	mtools("mcopy", src("big", big), "::/Sub Dir/Big File.bin")
	mtools("mcopy", src("u", []byte("ünïcødé")), "::/Sub Dir/ünï cødé.txt")
	mtools("mcopy", src("ro", []byte("read only")), "::/RO.TXT")
	mtools("mcopy", src("hid", []byte("hidden")), "::/HIDDEN.TXT")
	mtools("mattrib", "+r", "::/RO.TXT")
	mtools("mattrib", "+h", "::/HIDDEN.TXT")
	mtools("mcopy", src("g1", []byte("gone\n")), "::/GONE.TXT")
	mtools("mcopy", src("g2", []byte("a long deleted name\n")), "::/Sub Dir/Long Deleted Name.txt")
	mtools("mdel", "::/GONE.TXT", "::/Sub Dir/Long Deleted Name.txt")
	return img
}

// TestFATAgainstSleuthKit compares FAT12, FAT16, FAT32 and FAT16 with
// 4096-byte sectors with fls and icat.
func TestFATAgainstSleuthKit(t *testing.T) {
	disktest.Need(t, "mkfs.fat", "mcopy", "mmd", "mdel", "mattrib", "fls", "icat")
	for _, c := range []struct {
		name, kib string
		args      []string
		kind      Kind
	}{
		{"fat12", "2048", []string{"-F", "12"}, FAT12},
		{"fat16", "16384", []string{"-F", "16"}, FAT16},
		{"fat32", "40000", []string{"-F", "32"}, FAT32},
		{"fat16-4k", "20000", []string{"-F", "16", "-S", "4096", "-s", "1"}, FAT16},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			img := makeFAT(t, c.kib, c.args...)
			fsys := compare(t, img, 2, nil)
			if fsys.Volume().Kind != c.kind {
				t.Errorf("kind %s, want %s", fsys.Volume().Kind, c.kind)
			}
		})
	}
}

// compare checks every entry against fls, contents against icat, and
// the bytes at each file's extents; wantDeleted is how many deleted
// entries fls must show. fls ignores exFAT's UTC offsets and shows local
// times; utc gives, by path, the offset in seconds to take from its times.
func compare(t *testing.T, img string, wantDeleted int, utc map[string]int64) *FS {
	r, size := disktest.Open(t, img)
	fsys, err := Open(r, size)
	if err != nil {
		t.Fatal(err)
	}
	got := fstest.Entries(t, fsys)
	seen := map[string]bool{}
	deleted := 0
	for _, b := range fstest.Fls(t, img) {
		if strings.HasPrefix(b.Mode, "v/") || strings.HasPrefix(b.Mode, "V/") || strings.HasSuffix(b.Path, "(Volume Label Entry)") {
			continue // The Sleuth Kit's virtual files ($MBR, $FAT1, $OrphanFiles, ...)
		}
		e, ok := got[b.Path]
		if !ok {
			t.Errorf("%s (%s) listed by fls, not by us", b.Path, b.Inode)
			continue
		}
		seen[b.Path] = true
		if e.ID != b.Inode || e.Deleted != b.Deleted {
			t.Errorf("%s: id %s deleted %v; fls %s %v", b.Path, e.ID, e.Deleted, b.Inode, b.Deleted)
		}
		if b.Deleted {
			deleted++
		}
		for _, tm := range []*int64{&b.Atime, &b.Mtime, &b.Crtime} {
			if *tm != 0 {
				*tm -= utc[b.Path]
			}
		}
		if e.Size != b.Size || fstest.Secs(e.Accessed) != b.Atime || fstest.Secs(e.Modified) != b.Mtime ||
			fstest.Secs(e.Changed) != b.Ctime || fstest.Secs(e.Born) != b.Crtime {
			t.Errorf("%s: size %d times %d %d %d %d; fls %d, %d %d %d %d", b.Path, e.Size,
				fstest.Secs(e.Accessed), fstest.Secs(e.Modified), fstest.Secs(e.Changed), fstest.Secs(e.Born),
				b.Size, b.Atime, b.Mtime, b.Ctime, b.Crtime)
		}
		if mode := filesystem.ModeString(e); mode != b.Mode {
			t.Errorf("%s: mode %s, fls %s", b.Path, mode, b.Mode)
		}
		if e.Type != filesystem.TypeFile {
			continue
		}
		want := fstest.SHA256Bytes(fstest.Icat(t, img, b.Inode))
		f, err := fsys.Open(b.Path)
		if err != nil {
			t.Errorf("open %s: %v", b.Path, err)
			continue
		}
		if h := fstest.SHA256(t, f); h != want {
			t.Errorf("%s: sha256 %s, icat %s", b.Path, h, want)
		}
		ext, err := fsys.Extents(b.Path)
		if err != nil {
			t.Errorf("extents %s: %v", b.Path, err)
		} else if h := fstest.ExtentsSHA256(t, r, 0, ext, e.Size); h != want {
			t.Errorf("%s: bytes at extents %v hash %s, icat %s", b.Path, ext, h, want)
		}
	}
	for p := range got {
		if !seen[p] {
			t.Errorf("%s listed by us, not by fls", p)
		}
	}
	if deleted != wantDeleted {
		t.Errorf("fls shows %d deleted entries, want %d", deleted, wantDeleted)
	}
	return fsys
}
