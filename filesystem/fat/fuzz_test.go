package fat

import (
	"io"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// FuzzFAT damages small FAT12 (mkfs.fat and mtools: a directory, a long
// name, a deleted file) and exFAT (mkfs.exfat) images with a list of byte
// edits (fstest.Damage) and browses them whole, deleted entries included.
// The first byte of an input picks the image; the inputs that once failed
// are kept as edit lists.
func FuzzFAT(f *testing.F) {
	disktest.Need(f, "mkfs.fat", "mcopy", "mmd", "mdel", "mkfs.exfat")
	bases := [][]byte{
		fstest.MakeSeed(f, 64<<10,
			[]string{"mkfs.fat", "{dir}/img"},
			[]string{"mmd", "-i", "{dir}/img", "::/Sub Dir"},
			[]string{"mcopy", "-i", "{dir}/img", "/etc/hostname", "::/Sub Dir/Long Name.txt"},
			[]string{"mcopy", "-i", "{dir}/img", "/etc/hostname", "::/GONE.TXT"},
			[]string{"mdel", "-i", "{dir}/img", "::/GONE.TXT"}),
		fstest.MakeSeed(f, 1<<20, []string{"mkfs.exfat", "-b", "4096", "{dir}/img"}),
	}
	f.Add([]byte{0})
	f.Add([]byte{1})
	f.Add([]byte{0, 0, 0, 0x0D, 0x00}) // sectors per cluster
	fstest.Fuzz(f, "../..", bases, func(r io.ReaderAt, size int64) (filesystem.FS, error) { return Open(r, size) })
}
