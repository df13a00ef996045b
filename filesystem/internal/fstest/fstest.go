// Package fstest helps the filesystem adapters' tests compare what they
// read with The Sleuth Kit (fls, icat) and fuzz them over damaged images
// (running tools and opening images is internal/disktest's).
package fstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// Body is one line of fls's body output (-m): The Sleuth Kit's reading of
// one name.
type Body struct {
	Path    string // without " (deleted)" and a symbolic link's " -> target"
	Inode   string
	Mode    string // e.g. "r/rrw-r--r--"
	UID     string
	GID     string
	Size    int64
	Atime   int64
	Mtime   int64
	Ctime   int64
	Crtime  int64
	Deleted bool
	Target  string
}

// Fls lists img recursively with `fls -r -p -m /` plus args.
func Fls(t testing.TB, img string, args ...string) []Body {
	t.Helper()
	out := disktest.Output(t, "fls", append(append([]string{"-r", "-p", "-m", "/"}, args...), img)...)
	var bodies []Body
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 11 {
			t.Fatalf("fls line %q: %d fields", line, len(f))
		}
		b := Body{Path: f[1], Inode: f[2], Mode: f[3], UID: f[4], GID: f[5]}
		nums := []*int64{&b.Size, &b.Atime, &b.Mtime, &b.Ctime, &b.Crtime}
		for i, p := range nums {
			v, err := strconv.ParseInt(f[6+i], 10, 64)
			if err != nil {
				t.Fatalf("fls line %q: %v", line, err)
			}
			*p = v
		}
		for _, suffix := range []string{" (deleted-realloc)", " (deleted)"} {
			if s, ok := strings.CutSuffix(b.Path, suffix); ok {
				b.Path, b.Deleted = s, true
			}
		}
		if strings.HasPrefix(b.Mode, "l/") || strings.HasSuffix(b.Mode[:3], "l") {
			if s, target, ok := strings.Cut(b.Path, " -> "); ok {
				b.Path, b.Target = s, target
			}
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// Icat returns the content of inode (and stream) id of img read by icat.
func Icat(t testing.TB, img, id string, args ...string) []byte {
	t.Helper()
	return disktest.Output(t, "icat", append(append(args, img), id)...)
}

// Entries walks fsys from the root and returns every entry by path.
func Entries(t testing.TB, fsys filesystem.FS) map[string]filesystem.Entry {
	t.Helper()
	m := map[string]filesystem.Entry{}
	err := filesystem.Walk(context.Background(), fsys, "/", func(e filesystem.Entry) error {
		if old, dup := m[e.Path]; dup && !old.Deleted {
			return nil // a live entry wins over a removed one of the same name
		}
		m[e.Path] = e
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return m
}

// Secs returns t's Unix seconds, 0 for nil as fls prints it.
func Secs(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

// SHA256 hashes the whole of f.
func SHA256(t testing.TB, f filesystem.File) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, f.Size())); err != nil {
		t.Fatalf("read: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SHA256Bytes hashes b.
func SHA256Bytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ExtentsSHA256 hashes a file's bytes read straight from the image at its
// extents, zeros in the gaps (holes), up to size.
func ExtentsSHA256(t testing.TB, img io.ReaderAt, base int64, extents []filesystem.Extent, size int64) string {
	t.Helper()
	h := sha256.New()
	pos := int64(0)
	zeros := make([]byte, 1<<16)
	fill := func(n int64) {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			h.Write(zeros[:k])
			n -= k
		}
	}
	for _, e := range extents {
		if e.FileOffset < pos {
			t.Fatalf("extents out of order or overlapping at file offset %d", e.FileOffset)
		}
		fill(e.FileOffset - pos)
		if _, err := io.Copy(h, io.NewSectionReader(img, base+e.Offset, e.Length)); err != nil {
			t.Fatal(err)
		}
		pos = e.FileOffset + e.Length
	}
	fill(size - pos)
	return hex.EncodeToString(h.Sum(nil))
}
