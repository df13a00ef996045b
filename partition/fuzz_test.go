package partition

import (
	"bytes"
	"os"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// fuzzDisks are small disks partitioned by sfdisk (MBR with logical
// partitions) and sgdisk (GPT), 64 KiB each: the fuzzer's seeds.
func fuzzDisks(f *testing.F) [][]byte {
	disktest.Need(f, "sfdisk", "sgdisk")
	mbr := disktest.Sparse(f, "mbr.img", 64<<10)
	disktest.RunInput(f, "label: dos\nstart=4, size=20, type=83, bootable\nstart=30, size=60, type=5\nstart=100, size=8, type=7\nstart=110, size=8, type=ee\nsize=10, type=83\nsize=10, type=82\nsize=10, type=8e\n", "sfdisk", "-q", mbr)
	gpt := disktest.Sparse(f, "gpt.img", 64<<10)
	disktest.Run(f, "sgdisk", "-n", "1:40:+20", "-t", "1:ef00", "-c", "1:ESP", "-n", "2:0:+30", "-A", "2:set:63", "-A", "2:set:0", gpt)
	var out [][]byte
	for _, p := range []string{mbr, gpt} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzPartitionRead feeds Read damaged tables: it must not panic, must not
// fail on a readable disk, and every field and partition must be
// consistent with the disk it came from.
func FuzzPartitionRead(f *testing.F) {
	for _, b := range fuzzDisks(f) {
		f.Add(b, byte(0))
	}
	// The real images' first 64 KiB (their tables; the rest is cut off).
	if disktest.HaveCorpus() {
		for _, name := range []string{"btrfs.vhdx.gz", "swap.vhdx.gz"} {
			f.Add(disktest.Head(f, disktest.CorpusDisk(f, name), 0, 64<<10), byte(0))
		}
	}
	sizes := []int{512, 1024, 2048, 4096}
	f.Fuzz(func(t *testing.T, disk []byte, sector byte) {
		size := int64(len(disk))
		tab, err := Read(bytes.NewReader(disk), size, sizes[int(sector)%len(sizes)])
		if err != nil {
			t.Fatalf("a readable disk gave an error: %v", err)
		}
		for _, fl := range tab.Fields() {
			if fl.Offset < 0 || fl.Length <= 0 || fl.Offset > size || fl.Length > size-fl.Offset {
				t.Fatalf("field %+v outside the %d-byte disk", fl, size)
			}
		}
		for _, p := range tab.Partitions {
			if p.Start < 0 || p.Length < 0 || p.Start > p.Start+p.Length {
				t.Fatalf("partition %+v", p)
			}
			sec := tab.Section(bytes.NewReader(disk), p)
			if sec.Size() < 0 {
				t.Fatalf("section of %+v", p)
			}
		}
	})
}

// FuzzReadLVM feeds ReadLVM damaged physical volumes, seeded with a small
// one holding the test volume group: it must not panic, and every LV it
// can map must read within its size.
func FuzzReadLVM(f *testing.F) {
	pv := make([]byte, 12<<10)
	disktest.LayoutPV(pv, 8<<10)
	f.Add(pv)
	f.Fuzz(func(t *testing.T, pv []byte) {
		l, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
		if err != nil || l.VG == nil {
			return
		}
		buf := make([]byte, 4096)
		for _, lv := range l.VG.LogicalVolumes {
			r, err := l.Open(bytes.NewReader(pv), lv)
			if err != nil {
				continue
			}
			for _, off := range []int64{0, r.Size() / 2, r.Size() - 1} {
				if off >= 0 {
					r.ReadAt(buf, off)
				}
			}
		}
	})
}
