package ext

import (
	"io"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// FuzzExt damages small ext2 and ext4 images made by mkfs -d (a nested
// directory, a file, a symbolic link) with a list of byte edits
// (fstest.Damage) and browses them whole. The first byte of an input picks
// the image; the inputs that once failed are kept as edit lists.
func FuzzExt(f *testing.F) {
	disktest.Need(f, "mkfs.ext4", "mkdir", "ln", "cp")
	var bases [][]byte
	for _, typ := range []string{"ext2", "ext4"} {
		bases = append(bases, fstest.MakeSeed(f, 128<<10,
			[]string{"mkdir", "-p", "{dir}/t/d/e"},
			[]string{"cp", "/etc/hostname", "{dir}/t/d/e/f"},
			[]string{"ln", "-s", "d/e/f", "{dir}/t/l"},
			[]string{"mkfs." + typ, "-q", "-F", "-N", "32", "-d", "{dir}/t", "{dir}/img"}))
	}
	f.Add([]byte{0})
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0x08, 0x18, 0x05}) // log block size
	fstest.Fuzz(f, "../..", bases, func(r io.ReaderAt, size int64) (filesystem.FS, error) { return Open(r, size) })
}
