package qcow2

import "encoding/binary"

// writeMetadata writes everything before the data area: the header
// cluster, the refcount table and blocks, the L1 table and the L2 tables.
func (l *writerLayout) writeMetadata(s *writerStream) error {
	s.write(l.header())
	for i := range l.refTableClusters * l.clusterSize / 8 {
		if i < l.refBlocks {
			s.u64(uint64(l.refBlocksOffset + i*l.clusterSize))
		} else {
			s.u64(0)
		}
	}
	l.writeRefcounts(s)
	l.writeL1(s)
	l.writeL2(s)
	return s.err
}

// header returns the header cluster: a version 3 header, 112 bytes with
// the compression type, and no extension (the zeros after it read as the
// end-of-extensions marker).
func (l *writerLayout) header() []byte {
	h := make([]byte, l.clusterSize)
	be := binary.BigEndian
	be.PutUint32(h[0:], Magic)
	be.PutUint32(h[4:], 3) // version
	be.PutUint32(h[20:], uint32(l.clusterBits))
	be.PutUint64(h[24:], uint64(l.size))
	be.PutUint32(h[36:], uint32(l.l1Entries))
	be.PutUint64(h[40:], uint64(l.l1Offset))
	be.PutUint64(h[48:], uint64(l.refTableOffset))
	be.PutUint32(h[56:], uint32(l.refTableClusters))
	if l.ctype != CompressionDeflate {
		be.PutUint64(h[72:], IncompatCompression)
		h[104] = l.ctype
	}
	be.PutUint32(h[96:], writerRefcountOrder)
	be.PutUint32(h[100:], writerHeaderLength)
	return h
}

// writeRefcounts writes the refcount blocks, one at a time: every
// metadata cluster has refcount 1, a plain data cluster 1, and a host
// cluster holding compressed clusters one per compressed cluster it holds
// a part of.
func (l *writerLayout) writeRefcounts(s *writerStream) {
	perBlock := l.clusterSize * 8 >> writerRefcountOrder
	block := make([]byte, l.clusterSize)
	cur := int64(0) // the block in the buffer
	add := func(cluster int64) {
		for ; cluster >= (cur+1)*perBlock; cur++ {
			s.write(block)
			clear(block)
		}
		b := block[(cluster-cur*perBlock)*2:]
		binary.BigEndian.PutUint16(b, binary.BigEndian.Uint16(b)+1)
	}
	for c := range l.dataOffset / l.clusterSize {
		add(c)
	}
	p := newWriterPlacer(l.clusterSize)
	for _, size := range l.stored() {
		at := l.dataOffset + p.place(size)
		for c := at / l.clusterSize; c <= (at+size-1)/l.clusterSize; c++ {
			add(c)
		}
	}
	for ; cur < l.refBlocks; cur++ {
		s.write(block)
		clear(block)
	}
}

// writeL1 writes the L1 table: each L2 table follows the previous one.
func (l *writerLayout) writeL1(s *writerStream) {
	next, k := int64(0), int64(0) // the next entry; the next L2 table
	for i := range l.l2Indexes() {
		s.zeros((i - next) * 8)
		s.u64(uint64(l.l2Offset+k*l.clusterSize) | flagCopied)
		next, k = i+1, k+1
	}
	s.zeros(l.l1Clusters*l.clusterSize - next*8)
}

// writeL2 writes the L2 tables, one at a time, in the order of the L1
// entries that point to them.
func (l *writerLayout) writeL2(s *writerStream) {
	table := make([]byte, l.clusterSize)
	cur := int64(-1) // the L1 index of the table in the buffer
	p := newWriterPlacer(l.clusterSize)
	for guest, size := range l.stored() {
		at := l.dataOffset + p.place(size)
		if t := guest / l.l2Entries; t != cur {
			if cur >= 0 {
				s.write(table)
				clear(table)
			}
			cur = t
		}
		binary.BigEndian.PutUint64(table[guest%l.l2Entries*8:], l.l2Entry(at, size))
	}
	if cur >= 0 {
		s.write(table)
	}
}

// l2Entry returns the L2 entry of a cluster stored at host offset at in
// size bytes: a plain cluster with refcount 1, or a compressed cluster
// descriptor (offset in the low 62 - (cluster_bits - 8) bits, then the
// number of 512-byte sectors it reaches into past the first).
func (l *writerLayout) l2Entry(at, size int64) uint64 {
	if size == l.clusterSize {
		return uint64(at) | flagCopied
	}
	sectors := (at+size-1)/writerSector - at/writerSector
	return flagCompressed | uint64(sectors)<<(62-(l.clusterBits-8)) | uint64(at)
}
