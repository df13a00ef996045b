package xfs

import (
	"io"
	"os"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// FuzzXFS damages a small v5 XFS image (mkfs.xfs with a protofile: a
// file, a directory, a symbolic link) with a list of byte edits
// (fstest.Damage) and browses it whole. The inputs that once failed are
// kept as edit lists.
func FuzzXFS(f *testing.F) {
	disktest.Need(f, "mkfs.xfs", "cp")
	dir := f.TempDir()
	proto := dir + "/proto"
	if err := os.WriteFile(proto, []byte("/dev/null\n0 0\nd--755 0 0\nf ---644 0 0 /etc/hostname\nd d--755 0 0\n g ---644 0 0 /etc/hostname\n$\nl l--777 0 0 f\n$\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	// mkfs.xfs makes filesystems under 300 MiB only for the kernel's test
	// suites, which these variables name.
	for _, kv := range [][2]string{{"TEST_DIR", "1"}, {"TEST_DEV", "1"}, {"QA_CHECK_FS", "1"}} {
		f.Setenv(kv[0], kv[1])
	}
	base := fstest.MakeSeed(f, 16<<20, []string{"mkfs.xfs", "-q", "-p", proto, "{dir}/img"})
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x07, 0x00}) // block size
	fstest.Fuzz(f, "../..", [][]byte{base}, func(r io.ReaderAt, size int64) (filesystem.FS, error) { return Open(r, size) })
}
