package qcow2

import (
	"encoding/json"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"path/filepath"
	"testing"
)

// Counts agrees with qemu-img map on which clusters hold data (qemu reports a preallocated zero cluster as zero, not data).
func TestCountsAgreeWithQemuMap(t *testing.T) {
	for _, c := range []struct {
		name string
		opts string
	}{
		{"64k", "cluster_size=65536"},
		{"4k", "cluster_size=4096"},
		{"prealloc", "cluster_size=65536,preallocation=metadata"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.qcow2")
			const size = 64 << 20
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", c.opts, path, "64M")
			patterns(t, path, size, 1)
			var extents []struct {
				Start, Length int64
				Data, Zero    bool
			}
			if err := json.Unmarshal(disktest.Output(t, "qemu-img", "map", "--output=json", path), &extents); err != nil {
				t.Fatal(err)
			}
			img := openImage(t, path)
			cluster := img.Header.ClusterSize()
			hosted := map[int64]bool{} // clusters whose bytes come from this file
			for _, e := range extents {
				for c := e.Start / cluster; e.Data && c <= (e.Start+e.Length-1)/cluster; c++ {
					hosted[c] = true
				}
			}
			dataClusters := uint64(len(hosted))
			got, err := img.Counts()
			if err != nil {
				t.Fatal(err)
			}
			var sum uint64
			for _, n := range got.Kinds {
				sum += n
			}
			if sum != size/uint64(cluster) {
				t.Errorf("counts sum to %d clusters, the disk has %d: %v", sum, size/cluster, got.Kinds)
			}
			if hosted := got.Kinds["normal"] + got.Kinds["compressed"]; hosted != dataClusters {
				t.Errorf("clusters holding data = %d, qemu-img map shows %d data clusters: %v", hosted, dataClusters, got.Kinds)
			}
			if got.AllocatedBytes < int64(dataClusters)*cluster {
				t.Errorf("allocated bytes %d < %d data clusters", got.AllocatedBytes, dataClusters)
			}
		})
	}
}
