package filedata

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// model is the file's bytes worked out one byte at a time, apart from
// File's search over runs.
func model(f *File, src []byte) []byte {
	out := make([]byte, f.FileSize)
	for i := range out {
		pos := int64(i)
		switch {
		case pos >= f.Valid:
		case pos < int64(len(f.Inline)):
			out[i] = f.Inline[pos]
		default:
			for _, r := range f.Runs {
				if pos >= r.FileOffset && pos < r.FileOffset+r.Length && !r.Unwritten {
					out[i] = src[r.Offset+pos-r.FileOffset]
				}
			}
		}
	}
	return out
}

func TestReadAtAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]byte, 4096)
	for i := range src {
		src[i] = byte(rng.IntN(255) + 1) // no zeros: a hole read as data shows
	}
	runs := []Run{
		{FileOffset: 100, Offset: 1000, Length: 300},
		{FileOffset: 400, Offset: 0, Length: 50},                      // adjoining
		{FileOffset: 600, Offset: 2000, Length: 200, Unwritten: true}, // preallocated
		{FileOffset: 900, Offset: 3000, Length: 500},                  // runs past the size
	}
	cases := map[string]*File{
		"runs":         {FileSize: 1200, Valid: 1200, Runs: runs},
		"valid length": {FileSize: 1200, Valid: 250, Runs: runs},
		"inline":       {FileSize: 80, Valid: 80, Inline: src[:60]},
		"empty":        {FileSize: 0, Valid: 0},
		"all hole":     {FileSize: 700, Valid: 700, Runs: []Run{}},
	}
	for name, f := range cases {
		f.Src = Source{R: bytes.NewReader(src), Size: int64(len(src))}
		want := model(f, src)
		for off := int64(0); off <= f.FileSize+2; off += 7 {
			for _, n := range []int{0, 1, 13, 64, 333, 2000} {
				p := make([]byte, n)
				for i := range p {
					p[i] = 0xEE // stale bytes must be overwritten
				}
				got, err := f.ReadAt(p, off)
				end := min(off+int64(n), f.FileSize)
				wantN := int(max(end-off, 0))
				switch {
				case off >= f.FileSize && err != io.EOF:
					t.Fatalf("%s: ReadAt(%d, %d) at or after the end: %v, want io.EOF", name, n, off, err)
				case off < f.FileSize && off+int64(n) > f.FileSize && err != io.EOF:
					t.Fatalf("%s: ReadAt(%d, %d) past the end: %v, want io.EOF", name, n, off, err)
				case off < f.FileSize && off+int64(n) <= f.FileSize && err != nil:
					t.Fatalf("%s: ReadAt(%d, %d): %v", name, n, off, err)
				case got != wantN:
					t.Fatalf("%s: ReadAt(%d, %d) = %d, want %d", name, n, off, got, wantN)
				case !bytes.Equal(p[:got], want[min(off, f.FileSize):end]):
					t.Fatalf("%s: ReadAt(%d, %d): bytes differ from the model", name, n, off)
				}
			}
		}
	}
}

func TestReadAtErrors(t *testing.T) {
	f := &File{Src: Source{R: bytes.NewReader(make([]byte, 100)), Size: 100}, FileSize: 200, Valid: 200,
		Runs: []Run{{FileOffset: 0, Offset: 50, Length: 200}}}
	if _, err := f.ReadAt(make([]byte, 1), -1); !errors.Is(err, filesystem.ErrCorrupt) {
		t.Errorf("negative offset: %v, want ErrCorrupt", err)
	}
	var fe *filesystem.FormatError
	if _, err := f.ReadAt(make([]byte, 100), 0); !errors.As(err, &fe) || !errors.Is(err, filesystem.ErrCorrupt) {
		t.Errorf("a run beyond the filesystem: %v, want a *FormatError wrapping ErrCorrupt", err)
	}
}

func TestExtents(t *testing.T) {
	runs := []Run{
		{FileOffset: 0, Offset: 4096, Length: 1024},
		{FileOffset: 1024, Offset: 0, Length: 1024, Unwritten: true},
		{FileOffset: 2048, Offset: 8192, Length: 1024},
		{FileOffset: 4096, Offset: 16384, Length: 1024},
	}
	got := Extents(runs, 2500)
	want := []filesystem.Extent{{FileOffset: 0, Offset: 4096, Length: 1024}, {FileOffset: 2048, Offset: 8192, Length: 452}}
	if len(got) != len(want) {
		t.Fatalf("Extents = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Extents = %+v, want %+v", got, want)
		}
	}
}
