package partition

import (
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// TestCorpus reads the partition tables of the real images through the
// vhdx package and compares them with MANIFEST.json, whose facts were read
// with independent tools; the filesystem each names is probed.
func TestCorpus(t *testing.T) {
	for _, name := range []string{"btrfs.vhdx.gz", "swap.vhdx.gz", "xfs5.vhdx.gz", "vhdx-log-replay.vhdx.gz"} {
		t.Run(name, func(t *testing.T) {
			facts, _ := disktest.CorpusFacts(t, name)["partitions"].(string)
			disk := disktest.CorpusDisk(t, name)
			tab, err := Read(disk, disk.Size(), 512)
			if err != nil {
				t.Fatal(err)
			}
			scheme, want := disktest.ManifestPartitions(facts)
			if tab.Scheme != scheme {
				t.Errorf("scheme %q, MANIFEST %q", tab.Scheme, facts)
			}
			if scheme == SchemeNone {
				want = []disktest.ManifestPart{{Type: "", Start: 0, Length: disk.Size() / 512}}
			}
			if len(tab.Partitions) != len(want) {
				t.Fatalf("%d partitions, MANIFEST %q", len(tab.Partitions), facts)
			}
			for i, w := range want {
				p := tab.Partitions[i]
				if p.Type != w.Type || p.StartSector != w.Start || p.Sectors != w.Length {
					t.Errorf("partition %d %s at %d+%d, MANIFEST %+v", p.Number, p.Type, p.StartSector, p.Sectors, w)
				}
				info, err := filesystem.Probe(tab.Section(disk, p), p.Length)
				if err != nil {
					t.Fatal(err)
				}
				// MANIFEST names the filesystem, if any, in its text ("XFS v5" is "xfs").
				if info.Type != "" && !strings.Contains(strings.ToLower(facts), info.Type) {
					t.Errorf("partition %d holds %s; MANIFEST %q", p.Number, info.Type, facts)
				}
			}
			if len(tab.Findings) != 0 {
				t.Errorf("findings %+v", tab.Findings)
			}
		})
	}
}
