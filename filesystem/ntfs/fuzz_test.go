package ntfs

import (
	"io"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// FuzzNTFS damages a small NTFS image made by mkntfs and ntfscp (a
// resident file with a stream, a non-resident file) with a list of byte
// edits (fstest.Damage) and browses it whole: a panic in go-ntfs must come
// back as an error. The inputs that once failed are edit lists over the
// same image (its layout is fixed by mkntfs's arguments).
func FuzzNTFS(f *testing.F) {
	disktest.Need(f, "mkntfs", "ntfscp", "cp")
	base := fstest.MakeSeed(f, 1536<<10,
		[]string{"mkntfs", "-q", "-F", "-Q", "-c", "512", "{dir}/img"},
		[]string{"ntfscp", "-q", "{dir}/img", "/etc/hostname", "a.txt"},
		[]string{"ntfscp", "-q", "-N", "s", "{dir}/img", "/etc/hostname", "a.txt"},
		[]string{"ntfscp", "-q", "{dir}/img", "/etc/services", "nonresident.bin"})
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x0B, 0x00}) // bytes per sector
	fstest.Fuzz(f, "../..", [][]byte{base}, func(r io.ReaderAt, size int64) (filesystem.FS, error) { return Open(r, size) })
}
