package fstest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// MakeSeed builds an image with a shell-free sequence of commands run in a
// temporary directory (the image is "img" there) and returns its bytes.
func MakeSeed(f *testing.F, size int64, cmds ...[]string) []byte {
	dir := f.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		f.Fatal(err)
	}
	for _, c := range cmds {
		args := make([]string, len(c)-1)
		for i, a := range c[1:] {
			args[i] = strings.ReplaceAll(a, "{dir}", dir)
		}
		disktest.Output(f, c[0], args...)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// Exercise walks fsys as a browser would, within bounds, ignoring errors:
// a fuzz target's body. It must neither panic nor hang.
func Exercise(fsys filesystem.FS) {
	n := 0
	stop := errors.New("enough")
	buf := make([]byte, 64<<10)
	filesystem.Walk(context.Background(), fsys, "/", func(e filesystem.Entry) error {
		if n++; n > 2000 {
			return stop
		}
		fsys.Stat(e.Path)
		if e.Type == filesystem.TypeDir {
			return nil
		}
		fsys.Extents(e.Path)
		names := []string{e.Path}
		for _, s := range e.Streams {
			names = append(names, e.Path+":"+s.Name)
		}
		for _, p := range names {
			if f, err := fsys.Open(p); err == nil {
				f.ReadAt(buf, 0)
				if f.Size() > int64(len(buf)) {
					f.ReadAt(buf, f.Size()-int64(len(buf)))
				}
				io.ReadFull(io.NewSectionReader(f, 0, 1), buf[:1])
			}
		}
		return nil
	}, func(string, error) error { return nil })
}

// Damage returns a copy of base with the edits applied: every 4 bytes of
// edits set the byte at offset (the first 3 bytes, big-endian, scaled to
// len(base)) to the 4th; a byte left over cuts the image to that many
// 256ths of its length. Fuzzing a list of edits over a real image, rather
// than the image itself, keeps the fuzzer's inputs small, and with them its
// minimization of new inputs (one execution per byte), when the tools make
// images of hundreds of KiB (mkntfs: 1.5 MiB at least).
func Damage(base, edits []byte) []byte {
	b := append([]byte(nil), base...)
	i := 0
	for ; i+4 <= len(edits) && len(b) > 0; i += 4 {
		off := (int64(edits[i])<<16 | int64(edits[i+1])<<8 | int64(edits[i+2])) * int64(len(b)) >> 24
		b[off] = edits[i+3]
	}
	if i < len(edits) {
		b = b[:len(b)*int(edits[i])/256]
	}
	return b
}

// Fuzz runs f's fuzz target over images made from bases: each input is a
// list of edits (Damage) to one of them (with more than one base, the
// input's first byte picks it), and an image that open accepts is browsed
// whole (Exercise). The inputs kept under the repository's
// testdata/fuzz/<f's name>/ (root: the path to the repository) seed it.
func Fuzz(f *testing.F, root string, bases [][]byte, open func(r io.ReaderAt, size int64) (filesystem.FS, error)) {
	disktest.AddFuzzCorpus(f, root, f.Name())
	f.Fuzz(func(t *testing.T, in []byte) {
		base := bases[0]
		if len(bases) > 1 {
			if len(in) == 0 {
				return
			}
			base, in = bases[int(in[0])%len(bases)], in[1:]
		}
		b := Damage(base, in)
		fsys, err := open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		Exercise(fsys)
	})
}
