package ntfs

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// makeImage builds an NTFS image with mkntfs and ntfscp (files, a Unicode
// name, a non-resident multi-megabyte file, an empty file, an alternate
// data stream), then deletes gone.txt as Windows would leave it: its MFT
// record marked not in use with its content intact, and its name gone from
// the root index. ntfs-3g has no tool to delete without mounting, so the
// deletion is done by copying the root's index block from the image made
// before gone.txt was added, and clearing the record's in-use flag.
func makeImage(t *testing.T) string {
	dir := t.TempDir()
	src := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := make([]byte, 3_000_017)
	for i := range big {
		big[i] = byte(i*13 + i>>9)
	}
	before := filepath.Join(dir, "before.img")
	img := filepath.Join(dir, "ntfs.img")
	if err := os.WriteFile(before, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(before, 24<<20); err != nil {
		t.Fatal(err)
	}
	disktest.Output(t, "mkntfs", "-q", "-F", "-Q", before)
	disktest.Output(t, "ntfscp", "-q", before, src("keep", []byte("keep me\n")), "keep.txt")
	disktest.Output(t, "ntfscp", "-q", before, src("uni", []byte("ünïcødé")), "ünï cødé.txt")
	disktest.Output(t, "ntfscp", "-q", before, src("big", big), "big.bin")
	disktest.Output(t, "ntfscp", "-q", before, src("empty", nil), "empty.txt")
	disktest.Output(t, "ntfscp", "-q", "-N", "ads1", before, src("ads", bytes.Repeat([]byte("stream "), 300)), "keep.txt")
	raw, err := os.ReadFile(before)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	disktest.Output(t, "ntfscp", "-q", img, src("gone", []byte("gone but here\n")), "gone.txt")

	var record int64 = -1
	for _, b := range fstest.Fls(t, img) {
		if b.Path == "/gone.txt" {
			record, _ = strconv.ParseInt(strings.Split(b.Inode, "-")[0], 10, 64)
		}
	}
	clusters := regexp.MustCompile(`(?s)\$INDEX_ALLOCATION \(160-\d+\)[^\n]*\n([\d ]+)`).FindStringSubmatch(string(disktest.Output(t, "istat", before, "5")))
	if record < 0 || clusters == nil {
		t.Fatal("gone.txt's record or the root index clusters not found")
	}
	out, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	cs := int64(out[13]) * int64(binary.LittleEndian.Uint16(out[11:]))
	for _, c := range strings.Fields(clusters[1]) {
		n, _ := strconv.ParseInt(c, 10, 64)
		copy(out[n*cs:(n+1)*cs], raw[n*cs:(n+1)*cs])
	}
	mft := int64(binary.LittleEndian.Uint64(out[0x30:])) * cs
	out[mft+record*1024+0x16] &^= 1
	if err := os.WriteFile(img, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestAgainstSleuthKit compares names, record numbers, sizes, the four
// $STANDARD_INFORMATION times, permissions as fls derives them, owner IDs,
// streams and contents (icat) with The Sleuth Kit, and checks that the
// extents of every file hold its bytes.
func TestAgainstSleuthKit(t *testing.T) {
	disktest.Need(t, "mkntfs", "ntfscp", "fls", "icat", "istat")
	img := makeImage(t)
	r, size := disktest.Open(t, img)
	fsys, err := Open(r, size)
	if err != nil {
		t.Fatal(err)
	}
	got := fstest.Entries(t, fsys)
	// Records with an attribute list are described through go-ntfs, all
	// others from the MFT scan: with the scan's records dropped, every
	// entry goes through the library and must come out the same.
	lib, err := Open(r, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.scanMFT(); err != nil {
		t.Fatal(err)
	}
	lib.records = nil
	if viaLib := fstest.Entries(t, lib); !reflect.DeepEqual(viaLib, got) {
		for p, e := range got {
			if !reflect.DeepEqual(viaLib[p], e) {
				t.Errorf("%s: from the scan %+v, through go-ntfs %+v", p, e, viaLib[p])
			}
		}
	}
	seen := map[string]bool{}
	deleted, streams := 0, 0
	for _, b := range fstest.Fls(t, img) {
		parts := strings.Split(b.Inode, "-")
		if strings.HasSuffix(b.Path, " ($FILE_NAME)") || strings.HasPrefix(b.Path, "/$OrphanFiles") || (len(parts) == 3 && parts[1] != "128" && parts[1] != "144") {
			continue // $FILE_NAME times, orphans without a live parent, other attributes
		}
		p, stream := splitStream(b.Path)
		e, ok := got[p]
		if !ok {
			t.Errorf("%s (%s) listed by fls, not by us", p, b.Inode)
			continue
		}
		if stream != "" {
			seen[p] = true
			if parts[1] != "128" {
				continue // named index ($O, $Q, $R, $SDH, $SII), not a data stream
			}
			streams++
			found := false
			for _, s := range e.Streams {
				found = found || (s.Name == stream && s.Size == b.Size)
			}
			if !found {
				t.Errorf("%s: stream %s of %d bytes not in %v", p, stream, b.Size, e.Streams)
			}
			if b.Path != "/$BadClus:$Bad" { // sparse; icat writes nothing for it
				checkContent(t, fsys, img, r, b.Path, b.Inode, b.Size)
			}
			continue
		}
		seen[p] = true
		if rec, _, _ := strings.Cut(e.ID, "-"); rec != parts[0] || e.Deleted != b.Deleted {
			t.Errorf("%s: id %s deleted %v; fls %s %v", p, e.ID, e.Deleted, b.Inode, b.Deleted)
		}
		if b.Deleted {
			deleted++
		}
		if e.Type == filesystem.TypeFile && e.Size != b.Size {
			t.Errorf("%s: size %d, fls %d", p, e.Size, b.Size)
		}
		for i, tm := range [][2]int64{{fstest.Secs(e.Accessed), b.Atime}, {fstest.Secs(e.Modified), b.Mtime}, {fstest.Secs(e.Changed), b.Ctime}, {fstest.Secs(e.Born), b.Crtime}} {
			// fls shows an unset time (0, in $MFT's record) as 3373865674.
			if tm[0] != tm[1] && !(tm[0] == 0 && tm[1] == 3373865674) {
				t.Errorf("%s: time %d is %d, fls %d", p, i, tm[0], tm[1])
			}
		}
		// The name-type letter before "/" is "-" in fls for a record
		// found without a name entry. ntfs-3g writes the short (NTFS 1.2)
		// $STANDARD_INFORMATION, without owner ID; fls then reads the
		// next attribute's type (48) as owner.
		if mode := filesystem.ModeString(e); mode[2:] != b.Mode[2:] || (e.HasOwner && strconv.Itoa(int(e.UID)) != b.UID) {
			t.Errorf("%s: mode %s uid %d; fls %s %s", p, mode, e.UID, b.Mode, b.UID)
		}
		if e.Type == filesystem.TypeFile {
			checkContent(t, fsys, img, r, p, b.Inode, b.Size)
		}
	}
	for p := range got {
		if !seen[p] {
			t.Errorf("%s listed by us, not by fls", p)
		}
	}
	if deleted != 1 || streams < 1 {
		t.Errorf("%d deleted files, %d streams compared; want 1 and at least 1", deleted, streams)
	}
}

// checkContent compares a file's or stream's bytes read through Open and
// through its extents with icat's.
func checkContent(t *testing.T, fsys *FS, img string, r *os.File, p, inode string, size int64) {
	want := fstest.SHA256Bytes(fstest.Icat(t, img, inode))
	f, err := fsys.Open(p)
	if err != nil {
		t.Errorf("open %s: %v", p, err)
		return
	}
	if got := fstest.SHA256(t, f); got != want || f.Size() != size {
		t.Errorf("%s: %d bytes sha256 %s; icat %d bytes %s", p, f.Size(), got, size, want)
	}
	ext, err := fsys.Extents(p)
	if err != nil {
		t.Errorf("extents %s: %v", p, err)
		return
	}
	if len(ext) > 0 {
		if got := fstest.ExtentsSHA256(t, r, 0, ext, size); got != want {
			t.Errorf("%s: bytes at extents %v hash %s, icat %s", p, ext, got, want)
		}
	}
}
