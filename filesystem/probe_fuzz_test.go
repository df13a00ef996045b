package filesystem

import (
	"bytes"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// fuzzSeedBytes is how much of each made filesystem seeds the fuzzer: the
// Btrfs superblock at 64 KiB is the farthest of the superblocks.
const fuzzSeedBytes = 72 << 10

// FuzzProbe feeds Probe damaged filesystems, seeded with the start of
// each filesystem the tests make with their own mkfs: it must not panic,
// and what it reports must lie within the range.
func FuzzProbe(f *testing.F) {
	for _, c := range fsCases {
		r, _ := disktest.Open(f, c.image(f))
		f.Add(disktest.Head(f, r, 0, fuzzSeedBytes))
	}
	// The start of the real images' filesystems: swap at offset 0, Btrfs
	// in partition 1 (at 1 MiB). (The larger XFS image would slow the
	// start of every fuzzing worker; mkfs.xfs seeds XFS.)
	if disktest.HaveCorpus() {
		for name, off := range map[string]int64{"swap.vhdx.gz": 0, "btrfs.vhdx.gz": 1 << 20} {
			f.Add(disktest.Head(f, disktest.CorpusDisk(f, name), off, fuzzSeedBytes))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		size := int64(len(b))
		info, err := Probe(bytes.NewReader(b), size)
		if err != nil {
			t.Fatalf("a bytes.Reader gave a read error: %v", err)
		}
		if info.Type == "" {
			return
		}
		if info.Size < 0 || info.BlockSize < 0 || info.Used < -1 {
			t.Fatalf("negative size in %+v", info)
		}
		for _, fl := range info.Fields {
			if fl.Offset < 0 || fl.Length < 0 || fl.Offset > size || fl.Length > size-fl.Offset {
				t.Fatalf("field %+v outside %d bytes", fl, size)
			}
		}
	})
}
