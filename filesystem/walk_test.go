package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
)

// fakeFS is a directory graph in memory: each directory lists the entries
// of dirs[path].
type fakeFS map[string][]Entry

func (f fakeFS) ReadDir(p string) ([]Entry, error) {
	e, ok := f[p]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]Entry(nil), e...), nil
}

func (f fakeFS) Stat(p string) (Entry, error) {
	if p == "/" {
		return Entry{Path: "/", Type: TypeDir, ID: "root"}, nil
	}
	return Entry{}, ErrNotFound
}

func (f fakeFS) Open(string) (File, error)        { return nil, ErrNotFound }
func (f fakeFS) Extents(string) ([]Extent, error) { return nil, ErrNotFound }

// loopDirs is a directory that contains itself: a looping structure.
type loopDirs struct{ fakeFS }

func (loopDirs) ReadDir(p string) ([]Entry, error) {
	return []Entry{{Name: "again", Path: JoinPath(p, "again"), Type: TypeDir, ID: "root"}, {Name: "f", Path: JoinPath(p, "f"), Type: TypeFile, ID: "f"}}, nil
}

func (loopDirs) Stat(p string) (Entry, error) {
	return Entry{Path: "/", Type: TypeDir, ID: "root"}, nil
}

func TestWalkStopsAtLoop(t *testing.T) {
	var seen []string
	err := Walk(context.Background(), loopDirs{}, "/", func(e Entry) error {
		seen = append(seen, e.Path)
		return nil
	}, nil)
	if err != nil || len(seen) != 2 {
		t.Fatalf("walk of a directory containing itself: %v, %v", seen, err)
	}
}

// deepDirs is a chain of directories each with a new ID: depth without end.
type deepDirs struct{ fakeFS }

func (deepDirs) ReadDir(p string) ([]Entry, error) {
	return []Entry{{Name: "d", Path: JoinPath(p, "d"), Type: TypeDir, ID: strconv.Itoa(len(p))}}, nil
}

func (deepDirs) Stat(string) (Entry, error) { return Entry{Path: "/", Type: TypeDir, ID: "root"}, nil }

func TestWalkDepthBound(t *testing.T) {
	n := 0
	err := Walk(context.Background(), deepDirs{}, "/", func(Entry) error { n++; return nil }, nil)
	if !errors.Is(err, ErrWorkLimit) || n != MaxDepth {
		t.Fatalf("endless depth: %d entries, %v", n, err)
	}
	// With an error handler, the walk goes on (here: ends) without failing.
	if err := Walk(context.Background(), deepDirs{}, "/", func(Entry) error { return nil }, func(string, error) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestFindMatchesAndCancels(t *testing.T) {
	fsys := fakeFS{
		"/":    {{Name: "A.TXT", Path: "/A.TXT", Type: TypeFile, ID: "1"}, {Name: "sub", Path: "/sub", Type: TypeDir, ID: "2"}, {Name: "gone.txt", Path: "/gone.txt", Type: TypeFile, ID: "3", Deleted: true}},
		"/sub": {{Name: "b.txt", Path: "/sub/b.txt", Type: TypeFile, ID: "4"}, {Name: "c.bin", Path: "/sub/c.bin", Type: TypeFile, ID: "5"}},
	}
	var got []string
	if err := Find(context.Background(), fsys, "/", "*.txt", true, func(e Entry) error { got = append(got, e.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := "[/A.TXT /gone.txt /sub/b.txt]"; fmt.Sprint(got) != want {
		t.Errorf("found %v, want %s", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Find(ctx, fsys, "/", "*", false, func(Entry) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled find: %v", err)
	}
	if err := Find(context.Background(), fsys, "/", "[", false, func(Entry) error { return nil }); err == nil {
		t.Error("bad pattern accepted")
	}
}

// panicReader panics on every read, as a library might on bad input.
type panicReader struct{}

func (panicReader) ReadAt([]byte, int64) (int, error) { panic("index out of range") }

func TestGuardTurnsPanicsIntoErrors(t *testing.T) {
	_, err := Guard("lib", func() (int, error) {
		var m map[string]int
		m["x"] = 1 // a nil-map write panics
		return 0, nil
	})
	if !errors.Is(err, ErrLibraryPanic) {
		t.Fatalf("Guard: %v", err)
	}
	if _, err := GuardReaderAt("lib", panicReader{}).ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrLibraryPanic) {
		t.Fatalf("GuardReaderAt: %v", err)
	}
	v, err := Guard("lib", func() (int, error) { return 7, io.EOF })
	if v != 7 || err != io.EOF {
		t.Fatalf("Guard changed a normal result: %d, %v", v, err)
	}
}
