package ext

import (
	"bytes"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
)

// FuzzExt damages small ext2 and ext4 images made by mkfs -d (a nested
// directory, a file, a symbolic link) with a list of byte edits
// (fstest.Damage) and browses them whole. The first byte of an input picks
// the image; the inputs that once failed are kept as edit lists.
func FuzzExt(f *testing.F) {
	fstest.Require(f, "mkfs.ext4", "mkdir", "ln", "cp")
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
	fstest.AddCorpus(f, "../..", "FuzzExt")
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		b := fstest.Damage(bases[int(in[0])%len(bases)], in[1:])
		fsys, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		fstest.Exercise(fsys)
	})
}
