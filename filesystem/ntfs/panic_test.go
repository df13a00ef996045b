package ntfs

import (
	"errors"
	"os"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// panicAfter is a disk that panics on reads beyond an offset, standing in
// for go-ntfs panicking on a damaged structure: the panic unwinds through
// the library and must come back as ErrLibraryPanic.
type panicAfter struct {
	f     *os.File
	limit int64
}

func (p panicAfter) ReadAt(b []byte, off int64) (int, error) {
	if off+int64(len(b)) > p.limit {
		panic("runtime error: slice bounds out of range")
	}
	return p.f.ReadAt(b, off)
}

func TestLibraryPanicIsAnError(t *testing.T) {
	disktest.Need(t, "mkntfs", "ntfscp", "fls", "icat", "istat")
	img := makeImage(t)
	f, size := disktest.Open(t, img)
	// Panics while the boot sector and $MFT are read.
	if _, err := Open(panicAfter{f, 512}, size); !errors.Is(err, filesystem.ErrLibraryPanic) {
		t.Fatalf("Open over a panicking read: %v", err)
	}
	// Panics later, while directories and files are read.
	fsys, err := Open(panicAfter{f, size}, size)
	if err != nil {
		t.Fatal(err)
	}
	fsys.r = panicAfter{f, 0}
	fsys.ctx.DiskReader = panicAfter{f, 0}
	fsys.ctx.MFTReader = panicAfter{f, 0}
	fsys.ctx.Purge()
	if _, err := fsys.ReadDir("/"); !errors.Is(err, filesystem.ErrLibraryPanic) {
		t.Fatalf("ReadDir over a panicking read: %v", err)
	}
}
