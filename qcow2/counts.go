package qcow2

// ClusterCounts counts the guest clusters of the active L1 table by kind,
// and the bytes of the file that hold their data.
type ClusterCounts struct {
	Kinds map[string]uint64 `json:"kinds"` // guest clusters by ClusterKind name
	// AllocatedBytes is what the data takes in the file (or its data
	// file): whole clusters for normal and preallocated zero clusters, the
	// stored length for compressed ones.
	AllocatedBytes int64 `json:"allocated_bytes"`
}

// Counts reads the L2 tables the active L1 table points to, and only
// those, and counts the guest clusters they describe by kind. Clusters
// under unallocated L1 entries count as unallocated.
func (img *Image) Counts() (*ClusterCounts, error) {
	c := &ClusterCounts{Kinds: map[string]uint64{}}
	for _, k := range ClusterKinds {
		c.Kinds[k.String()] = 0
	}
	if img.Header == nil || img.Header.ClusterBits == 0 {
		return c, nil
	}
	cluster := img.Header.ClusterSize()
	total := (img.Header.VirtualSize + uint64(cluster) - 1) / uint64(cluster)
	perTable := uint64(img.Header.L2Entries())
	var described uint64
	for i := range img.L1 {
		if described >= total {
			break
		}
		n := min(perTable, total-described)
		described += n
		entries, err := img.L2(i)
		if err != nil {
			return c, err
		}
		if entries == nil {
			c.Kinds[Unallocated.String()] += n
			continue
		}
		for _, e := range entries[:min(uint64(len(entries)), n)] {
			c.Kinds[e.Kind.String()]++
			switch e.Kind {
			case Normal, ZeroAllocated:
				c.AllocatedBytes += cluster
			case Compressed:
				c.AllocatedBytes += e.CompressedLength
			}
		}
	}
	c.Kinds[Unallocated.String()] += total - described
	return c, nil
}
