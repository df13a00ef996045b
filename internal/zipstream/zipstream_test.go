package zipstream

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// write builds an archive of the given files (name → content; a name
// ending in "/" is a directory) in order.
func write(t *testing.T, w io.Writer, names []string, files map[string][]byte, mod time.Time) {
	t.Helper()
	z := NewWriter(w)
	for _, n := range names {
		var err error
		if n[len(n)-1] == '/' {
			err = z.CreateDir(n, mod)
		} else if err = z.Create(n, mod, int64(len(files[n]))); err == nil {
			_, err = z.Write(files[n])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestArchiveReadsBack(t *testing.T) {
	mod := time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
	files := map[string][]byte{
		"a.txt":         []byte("hello\n"),
		"dir/":          nil,
		"dir/empty":     {},
		"dir/big.bin":   bytes.Repeat([]byte("0123456789abcdef"), 70000),
		"dir/ünïcode.t": []byte("utf-8 name"),
	}
	names := []string{"a.txt", "dir/", "dir/empty", "dir/big.bin", "dir/ünïcode.t"}
	var buf bytes.Buffer
	write(t, &buf, names, files, mod)

	// Go's reader checks every CRC-32 as it reads to the end.
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(names) {
		t.Fatalf("%d members, want %d", len(zr.File), len(names))
	}
	for i, f := range zr.File {
		if f.Name != names[i] {
			t.Errorf("member %d is %q, want %q", i, f.Name, names[i])
		}
		if !f.Modified.Equal(mod) {
			t.Errorf("%s modified %v, want %v", f.Name, f.Modified, mod)
		}
		if f.FileInfo().IsDir() != (names[i][len(names[i])-1] == '/') {
			t.Errorf("%s: directory %v", f.Name, f.FileInfo().IsDir())
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if !bytes.Equal(got, files[f.Name]) {
			t.Errorf("%s: content differs", f.Name)
		}
	}

	// Info-ZIP's unzip, an independent reader, tests every member.
	if _, err := exec.LookPath("unzip"); err != nil {
		t.Fatal("unzip is not installed (apt-get install unzip)")
	}
	path := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unzip", "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	out, err := exec.Command("unzip", "-p", path, "dir/big.bin").Output()
	if err != nil || !bytes.Equal(out, files["dir/big.bin"]) {
		t.Fatalf("unzip -p dir/big.bin: %v, %d bytes", err, len(out))
	}
}

func TestManyMembersUseZip64End(t *testing.T) {
	const n = 70000
	var buf bytes.Buffer
	z := NewWriter(&buf)
	mod := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if err := z.Create(fmt.Sprintf("f%05d", i), mod, 1); err != nil {
			t.Fatal(err)
		}
		z.Write([]byte{byte(i)})
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != n {
		t.Fatalf("%d members, want %d", len(zr.File), n)
	}
	path := filepath.Join(t.TempDir(), "many.zip")
	os.WriteFile(path, buf.Bytes(), 0o644)
	if out, err := exec.Command("unzip", "-tq", path).CombinedOutput(); err != nil {
		t.Fatalf("unzip -tq: %v\n%s", err, out)
	}
}

// sparseFile writes runs of zeros as holes.
type sparseFile struct {
	f   *os.File
	off int64
}

func (s *sparseFile) Write(p []byte) (int, error) {
	if len(p) >= 4096 && bytes.Count(p, []byte{0}) == len(p) {
		s.off += int64(len(p))
		return len(p), nil
	}
	n, err := s.f.WriteAt(p, s.off)
	s.off += int64(n)
	return n, err
}

func TestMemberOver4GiBIsZip64(t *testing.T) {
	if os.Getenv("ZIPSTREAM_4GIB") == "" {
		t.Skip("set ZIPSTREAM_4GIB=1 to write and read back a 4 GiB member (minutes); TestAnnouncedZip64 covers the records")
	}
	path := filepath.Join(t.TempDir(), "big.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &sparseFile{f: f}
	z := NewWriter(s)
	mod := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	size := int64(4<<30 + 12345)
	if err := z.Create("zeros.bin", mod, size); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	h := sha256.New()
	for left := size; left > 0; {
		n := min(left, int64(len(chunk)))
		z.Write(chunk[:n])
		h.Write(chunk[:n])
		left -= n
	}
	z.Create("after.txt", mod, 5)
	z.Write([]byte("after"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	f.Truncate(s.off)
	if out, err := exec.Command("unzip", "-tq", path).CombinedOutput(); err != nil {
		t.Fatalf("unzip -tq: %v\n%s", err, out)
	}
	out, err := exec.Command("unzip", "-Z", "-l", path).Output()
	if err != nil || !bytes.Contains(out, []byte(fmt.Sprint(size))) {
		t.Fatalf("zipinfo does not list %d bytes: %v\n%s", size, err, out)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if got := zr.File[0].UncompressedSize64; got != uint64(size) {
		t.Fatalf("size %d, want %d", got, size)
	}
	rc, _ := zr.File[1].Open()
	if b, _ := io.ReadAll(rc); string(b) != "after" {
		t.Fatalf("member after the big one reads %q", b)
	}
}

func TestSmallMemberTooLarge(t *testing.T) {
	z := NewWriter(io.Discard)
	z.Create("x", time.Now(), 1)
	z.cur.size = max32 - 1
	if _, err := z.Write([]byte{1, 2}); err != ErrTooLarge {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
}

func TestAnnouncedZip64(t *testing.T) {
	// A member announced as 4 GiB gets ZIP64 records whatever it holds.
	var buf bytes.Buffer
	z := NewWriter(&buf)
	mod := time.Date(2022, 2, 2, 2, 2, 2, 0, time.UTC)
	z.Create("big", mod, 1<<32)
	z.Write([]byte("zip64 data"))
	z.Create("small", mod, 3)
	z.Write([]byte("abc"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte{0x01, 0x00, 16, 0}) {
		t.Fatal("no ZIP64 extra field")
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"zip64 data", "abc"} {
		rc, err := zr.File[i].Open()
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(rc); err != nil || string(b) != want {
			t.Fatalf("member %d: %q, %v", i, b, err)
		}
	}
	path := filepath.Join(t.TempDir(), "z64.zip")
	os.WriteFile(path, buf.Bytes(), 0o644)
	if out, err := exec.Command("unzip", "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
}
