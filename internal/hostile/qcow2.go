package hostile

import "encoding/binary"

// qcow2Header returns a 64 KiB qcow2 version 3 file with a 104-byte header
// of clusterBits-bit clusters and a 1 TiB disk, every table at offset 0
// and empty: the base the crafted cases edit.
func qcow2Header(clusterBits uint32) []byte {
	b := make([]byte, 1<<16)
	be := binary.BigEndian
	be.PutUint32(b[0:], 0x514649fb) // "QFI\xfb"
	be.PutUint32(b[4:], 3)
	be.PutUint32(b[20:], clusterBits)
	be.PutUint64(b[24:], 1<<40)
	be.PutUint32(b[96:], 4) // refcount order: 16-bit refcounts
	be.PutUint32(b[100:], 104)
	return b
}

// QCOW2Images returns crafted qcow2 worst cases by name: headers claiming
// huge tables, each of which must open, check and read within a bounded
// time and memory, or be refused with a named error.
func QCOW2Images() map[string][]byte {
	be := binary.BigEndian
	out := map[string][]byte{}
	// An L1 table of 2^32-1 entries at offset 0.
	b := qcow2Header(16)
	be.PutUint32(b[36:], 0xffffffff)
	out["huge_l1"] = b
	// An L1 the file can hold, every entry pointing at one 2 MiB "L2
	// table" (the header cluster) full of references.
	b = qcow2Header(21)
	be.PutUint32(b[36:], 4096)
	be.PutUint64(b[40:], 0)
	for i := 1024; i+8 <= len(b); i += 8 {
		be.PutUint64(b[i:], 1<<63)
	}
	out["shared_l2"] = b
	// 65536 snapshots claimed.
	b = qcow2Header(16)
	be.PutUint32(b[60:], 65536)
	out["many_snapshots"] = b
	// A refcount table of 2^32-1 clusters.
	b = qcow2Header(9)
	be.PutUint32(b[56:], 0xffffffff)
	out["huge_refcount_table"] = b
	// A snapshot whose ID and name claim 64 KiB each.
	b = qcow2Header(16)
	be.PutUint32(b[60:], 1)
	be.PutUint64(b[64:], 0)
	be.PutUint32(b[36:], 0)
	be.PutUint16(b[12:], 0xffff)
	be.PutUint16(b[14:], 0xffff)
	out["long_snapshot_names"] = b
	out["compressed_past_end"] = compressedPastEnd()
	out["control_chars"] = controlChars()
	return out
}

// qcow2Cluster is the cluster size of the consistent crafted images.
const qcow2Cluster = 1 << 16

// smallQCOW2 returns a consistent 1 MiB qcow2 image of n 64 KiB clusters
// (n >= 4): the header, the refcount table, its one refcount block (every
// cluster used once) and a one-entry L1 table, empty; the caller fills
// clusters 4 and on.
func smallQCOW2(n int) []byte {
	be := binary.BigEndian
	b := qcow2Header(16)
	b = append(b, make([]byte, (n-1)*qcow2Cluster)...)
	be.PutUint64(b[24:], 1<<20)
	be.PutUint32(b[36:], 1)              // L1 entries
	be.PutUint64(b[40:], 3*qcow2Cluster) // L1 table
	be.PutUint64(b[48:], qcow2Cluster)   // refcount table
	be.PutUint32(b[56:], 1)
	be.PutUint64(b[qcow2Cluster:], 2*qcow2Cluster) // its one refcount block
	for i := range n {
		be.PutUint16(b[2*qcow2Cluster+2*i:], 1)
	}
	return b
}

// compressedPastEnd returns a consistent image whose first guest cluster
// is compressed, its descriptor pointing 1 GiB past the file's end.
func compressedPastEnd() []byte {
	be := binary.BigEndian
	b := smallQCOW2(5)
	be.PutUint64(b[3*qcow2Cluster:], 1<<63|4*qcow2Cluster) // L1[0]: the L2 table, copied
	// L2[0]: compressed (bit 62), two 512-byte sectors (one more than the
	// first, from bit 62 - (cluster_bits - 8) = 54), at 1 GiB.
	be.PutUint64(b[4*qcow2Cluster:], 1<<62|1<<54|1<<30)
	return b
}

// controlChars returns a consistent image whose backing file name and
// whose one snapshot's ID and name hold ControlText.
func controlChars() []byte {
	be := binary.BigEndian
	b := smallQCOW2(6)
	backing := "base" + ControlText + ".qcow2"
	be.PutUint64(b[8:], 1024)
	be.PutUint32(b[16:], uint32(len(backing)))
	copy(b[1024:], backing)
	// The snapshot table (cluster 4): one entry, 16 bytes of extra data
	// (VM state size, disk size), then the ID and the name.
	id, name := "1"+ControlText, "snap"+ControlText
	be.PutUint32(b[60:], 1)
	be.PutUint64(b[64:], 4*qcow2Cluster)
	e := b[4*qcow2Cluster:]
	be.PutUint64(e[0:], 5*qcow2Cluster) // its L1 table (cluster 5), empty
	be.PutUint32(e[8:], 1)
	be.PutUint16(e[12:], uint16(len(id)))
	be.PutUint16(e[14:], uint16(len(name)))
	be.PutUint32(e[36:], 16)
	be.PutUint64(e[48:], 1<<20) // disk size
	copy(e[56:], id)
	copy(e[56+len(id):], name)
	return b
}
