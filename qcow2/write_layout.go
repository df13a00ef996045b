package qcow2

import (
	"fmt"
	"iter"
	"math/bits"
)

const (
	writerDefaultClusterSize = 64 << 10
	writerMinClusterSize     = 512
	writerMaxClusterSize     = 2 << 20
	writerHeaderLength       = 112       // version 3 header with compression_type, padded to 8 bytes
	writerRefcountOrder      = 4         // 16-bit refcounts, QEMU's default
	writerMaxRefcount        = 1<<16 - 1 // largest 16-bit refcount
	writerSector             = 512       // unit of compressed cluster lengths
)

// writerLayout is the plan of a new image: the geometry from the options,
// the stored clusters found by the first pass, and where every table and
// cluster goes. Offsets and counts are in bytes unless named otherwise.
type writerLayout struct {
	compress    bool
	ctype       uint8 // compression_type
	clusterBits uint
	clusterSize int64
	srcSize     int64 // bytes of the source; beyond, the disk reads as zeros
	size        int64 // virtual size: srcSize rounded up to 512 bytes
	clusters    int64 // guest clusters
	l2Entries   int64 // entries per L2 table
	l1Entries   int64

	// From the first pass.
	runs   []writerRun // stored guest clusters, in order
	sizes  []uint32    // with compression, the stored length of each stored cluster (clusterSize: plain)
	cache  []byte      // the compressed bytes of the first stored clusters
	cached int64       // how many stored clusters cache covers

	// From place: every table follows the previous one.
	refTableOffset   int64
	refTableClusters int64
	refBlocksOffset  int64
	refBlocks        int64
	l1Offset         int64
	l1Clusters       int64
	l2Offset         int64
	l2Tables         int64
	dataOffset       int64
	dataClusters     int64 // host clusters of the data area
	fileSize         int64
}

// writerRun is a run of consecutive stored guest clusters.
type writerRun struct {
	first, count int64
}

// newWriterLayout checks opt against a source of srcSize bytes and
// returns the geometry.
func newWriterLayout(srcSize int64, opt WriteOptions) (*writerLayout, error) {
	cs := opt.ClusterSize
	if cs == 0 {
		cs = writerDefaultClusterSize
	}
	if cs < writerMinClusterSize || cs > writerMaxClusterSize || cs&(cs-1) != 0 {
		return nil, fmt.Errorf("%w: cluster size %d is not a power of two from 512 B to 2 MiB", ErrInvalidWriteOptions, opt.ClusterSize)
	}
	if opt.Compress && opt.CompressionType != CompressionDeflate && opt.CompressionType != CompressionZstd {
		return nil, fmt.Errorf("%w: unknown compression type %d", ErrInvalidWriteOptions, opt.CompressionType)
	}
	if srcSize < 0 || srcSize > 1<<62 {
		return nil, fmt.Errorf("%w: source size %d", ErrInvalidWriteOptions, srcSize)
	}
	l := &writerLayout{
		compress:    opt.Compress,
		clusterBits: uint(bits.TrailingZeros(uint(cs))),
		clusterSize: int64(cs),
		srcSize:     srcSize,
		size:        writerAlign(srcSize, writerSector),
		l2Entries:   int64(cs) / 8,
	}
	if l.compress {
		l.ctype = opt.CompressionType
	}
	l.clusters = (l.size + l.clusterSize - 1) / l.clusterSize
	l.l1Entries = (l.clusters + l.l2Entries - 1) / l.l2Entries
	if l.l1Entries*8 > MaxL1Bytes {
		return nil, fmt.Errorf("%w: a %d-byte disk needs an L1 table of %d bytes with %d-byte clusters (at most %d): use larger clusters",
			ErrInvalidWriteOptions, srcSize, l.l1Entries*8, cs, MaxL1Bytes)
	}
	return l, nil
}

// writerAlign rounds n up to a multiple of a, a power of two.
func writerAlign(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// stored yields each stored guest cluster, in order, and its stored
// length (clusterSize for a plain cluster).
func (l *writerLayout) stored() iter.Seq2[int64, int64] {
	return func(yield func(guest, size int64) bool) {
		i := 0
		for _, r := range l.runs {
			for c := r.first; c < r.first+r.count; c++ {
				size := l.clusterSize
				if l.sizes != nil {
					size = int64(l.sizes[i])
				}
				i++
				if !yield(c, size) {
					return
				}
			}
		}
	}
}

// l2Indexes yields the index of each L1 entry that maps a stored cluster,
// in order: those are the L2 tables the image holds.
func (l *writerLayout) l2Indexes() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		last := int64(-1)
		for _, r := range l.runs {
			for t := max(r.first/l.l2Entries, last+1); t <= (r.first+r.count-1)/l.l2Entries; t++ {
				if !yield(t) {
					return
				}
				last = t
			}
		}
	}
}

// place lays out the file: the header cluster, the refcount table and
// blocks, the L1 table, the L2 tables, then the data area.
func (l *writerLayout) place() error {
	p := newWriterPlacer(l.clusterSize)
	for _, size := range l.stored() {
		p.place(size)
	}
	l.dataClusters = p.clusters()
	for range l.l2Indexes() {
		l.l2Tables++
	}
	l.l1Clusters = writerAlign(l.l1Entries*8, l.clusterSize) / l.clusterSize

	// The refcount blocks count every cluster, themselves and the table
	// included: grow both until they cover the file.
	perBlock := l.clusterSize * 8 >> writerRefcountOrder
	others := 1 + l.l1Clusters + l.l2Tables + l.dataClusters
	for {
		blocks := (others + l.refTableClusters + l.refBlocks + perBlock - 1) / perBlock
		table := writerAlign(blocks*8, l.clusterSize) / l.clusterSize
		if blocks == l.refBlocks && table == l.refTableClusters {
			break
		}
		l.refBlocks, l.refTableClusters = blocks, table
	}
	if l.refTableClusters*l.clusterSize > MaxRefcountTableBytes {
		return fmt.Errorf("%w: the image needs a refcount table of %d bytes with %d-byte clusters (at most %d): use larger clusters",
			ErrInvalidWriteOptions, l.refTableClusters*l.clusterSize, l.clusterSize, MaxRefcountTableBytes)
	}
	l.refTableOffset = l.clusterSize
	l.refBlocksOffset = l.refTableOffset + l.refTableClusters*l.clusterSize
	l.l1Offset = l.refBlocksOffset + l.refBlocks*l.clusterSize
	l.l2Offset = l.l1Offset + l.l1Clusters*l.clusterSize
	l.dataOffset = l.l2Offset + l.l2Tables*l.clusterSize
	l.fileSize = l.dataOffset + l.dataClusters*l.clusterSize
	// L1 and L2 entries hold offsets in bits 9-55; a compressed cluster's
	// descriptor in bits 0 to 61 - (cluster_bits - 8).
	limit := int64(1) << 56
	if l.compress {
		limit = 1 << (62 - (l.clusterBits - 8))
	}
	if l.fileSize > limit {
		return fmt.Errorf("%w: a %d-byte image is too large for %d-byte clusters (at most %d bytes)", ErrInvalidWriteOptions, l.fileSize, l.clusterSize, limit)
	}
	return nil
}

// writerPlacer assigns data-area offsets to stored clusters in order: a
// plain cluster at the next cluster boundary, a compressed one at the next
// byte, as QEMU packs them. A host cluster holding parts of n compressed
// clusters has refcount n, so a compressed cluster that would take the
// shared cluster's refcount past the 16-bit limit starts a fresh cluster.
type writerPlacer struct {
	clusterSize int64
	pos         int64 // the next free byte
	shared      int64 // refcount of the cluster holding byte pos-1, when pos is not aligned
}

func newWriterPlacer(clusterSize int64) *writerPlacer {
	return &writerPlacer{clusterSize: clusterSize}
}

// place returns the offset, in the data area, of the next stored cluster,
// size bytes long.
func (p *writerPlacer) place(size int64) int64 {
	c := p.clusterSize
	if size == c || (p.pos%c != 0 && p.shared == writerMaxRefcount) {
		p.pos = writerAlign(p.pos, c)
	}
	at := p.pos
	p.pos += size
	switch {
	case size == c:
	case at%c == 0 || at/c != (p.pos-1)/c:
		p.shared = 1 // the last cluster it touches is a fresh one
	default:
		p.shared++
	}
	return at
}

// clusters returns how many host clusters the placed clusters span.
func (p *writerPlacer) clusters() int64 { return writerAlign(p.pos, p.clusterSize) / p.clusterSize }
