package qcow2

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// Limits QEMU applies to the tables it keeps in memory; larger claims are
// refused before anything is allocated.
const (
	MaxL1Bytes            = 32 << 20 // QCOW_MAX_L1_SIZE
	MaxRefcountTableBytes = 8 << 20  // QCOW_MAX_REFTABLE_SIZE
)

// Entry masks.
const (
	tableOffsetMask = 0x00fffffffffffe00 // bits 9-55 of L1 and L2 entries
	reftOffsetMask  = 0xfffffffffffffe00 // bits 9-63 of refcount table entries
	flagCopied      = 1 << 63
	flagCompressed  = 1 << 62
	flagZero        = 1 << 0
)

// readTable reads count big-endian 64-bit entries at off, checked against
// the file and against limit bytes before anything is allocated.
func (img *Image) readTable(off uint64, count uint64, limit uint64, structure string, field int64) ([]uint64, error) {
	if count*8 > limit {
		return nil, formatErr(ErrCorrupt, "header", field, "the %s has %d entries, more than the %d bytes QEMU allows", structure, count, limit)
	}
	if off%uint64(img.Header.ClusterSize()) != 0 {
		return nil, formatErr(ErrCorrupt, "header", field, "the %s offset %#x is not cluster aligned", structure, off)
	}
	if !inFile(off, count*8, img.Size) {
		return nil, formatErr(ErrTruncated, structure, int64(min(off, 1<<62)), "%d entries run past the end of the file", count)
	}
	b := make([]byte, count*8)
	if err := readFull(img.r, b, int64(off), structure); err != nil {
		return nil, err
	}
	t := make([]uint64, count)
	for i := range t {
		t[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return t, nil
}

// clusterCache keeps recently read clusters (L2 tables, refcount blocks)
// by file offset, within a byte budget, evicting the oldest first.
type clusterCache struct {
	mu     sync.Mutex
	max    int
	byOff  map[int64][]byte
	order  []int64 // insertion order, oldest first
	loaded int64   // clusters read from the file so far
}

func newClusterCache(budget, clusterSize int64) *clusterCache {
	return &clusterCache{max: int(max(4, budget/clusterSize)), byOff: map[int64][]byte{}}
}

// get returns the n bytes at off, reading them on a miss; structure names
// them in errors.
func (c *clusterCache) get(img *Image, off, n int64, structure func() string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.byOff[off]; ok {
		return b, nil
	}
	b := make([]byte, n)
	if err := readFull(img.r, b, off, structure()); err != nil {
		return nil, err
	}
	c.loaded++
	if len(c.order) >= c.max {
		delete(c.byOff, c.order[0])
		c.order = c.order[1:]
	}
	c.byOff[off] = b
	c.order = append(c.order, off)
	return b, nil
}

// l2Entry is one L2 entry: the 64-bit descriptor and, with extended L2,
// the subcluster bitmap.
type l2Entry struct {
	raw, bitmap uint64
}

// l2Table returns the L2 table an L1 entry points to, from the cache.
func (img *Image) l2Table(l1 []uint64, index uint64) ([]byte, int64, error) {
	e := l1[index]
	off := int64(e & tableOffsetMask)
	if off == 0 {
		return nil, 0, nil
	}
	if off%img.Header.ClusterSize() != 0 {
		return nil, 0, formatErr(ErrCorrupt, fmt.Sprintf("L1 entry %d", index), -1, "L2 table offset %#x is not cluster aligned", off)
	}
	if !inFile(uint64(off), uint64(img.Header.ClusterSize()), img.Size) {
		return nil, 0, formatErr(ErrTruncated, fmt.Sprintf("L1 entry %d", index), -1, "L2 table at %#x is past the end of the file", off)
	}
	b, err := img.l2Cache.get(img, off, img.Header.ClusterSize(), func() string { return fmt.Sprintf("L2 table %d", index) })
	return b, off, err
}

// entrySize is the size of an L2 entry in bytes.
func (img *Image) entrySize() int64 {
	if img.Header.ExtendedL2() {
		return 16
	}
	return 8
}

// l2Lookup returns the L2 entry of guest cluster c through the L1 table
// l1, and the file offset of that entry (0 when its L2 table is absent).
func (img *Image) l2Lookup(l1 []uint64, c uint64) (l2Entry, int64, error) {
	per := uint64(img.Header.L2Entries())
	i := c / per
	if i >= uint64(len(l1)) {
		return l2Entry{}, 0, formatErr(ErrCorrupt, "L1 table", int64(img.Header.L1TableOffset), "guest cluster %d needs L1 entry %d, the table has %d", c, i, len(l1))
	}
	t, off, err := img.l2Table(l1, i)
	if err != nil || t == nil {
		return l2Entry{}, 0, err
	}
	j := int64(c%per) * img.entrySize()
	e := l2Entry{raw: binary.BigEndian.Uint64(t[j:])}
	if img.Header.ExtendedL2() {
		e.bitmap = binary.BigEndian.Uint64(t[j+8:])
	}
	return e, off + j, nil
}

// refcount returns the stored refcount of host cluster c: 0 when the
// refcount table or its block does not cover it.
func (img *Image) refcount(c uint64) (uint64, error) {
	h := img.Header
	bits := uint64(h.RefcountBits())
	perBlock := uint64(h.ClusterSize()) * 8 / bits
	i := c / perBlock
	if i >= uint64(len(img.RefcountTable)) {
		return 0, nil
	}
	off := img.RefcountTable[i] & reftOffsetMask
	if off == 0 {
		return 0, nil
	}
	where := func() string { return fmt.Sprintf("refcount block %d", i) }
	if off%uint64(h.ClusterSize()) != 0 {
		return 0, formatErr(ErrCorrupt, "refcount table entry", int64(h.RefcountTableOffset)+int64(8*i), "%s offset %#x is not cluster aligned", where(), img.RefcountTable[i])
	}
	if !inFile(off, uint64(h.ClusterSize()), img.Size) {
		return 0, nil // QEMU reads past the end of the file as zeros
	}
	b, err := img.refCache.get(img, int64(off), h.ClusterSize(), where)
	if err != nil {
		return 0, err
	}
	return refcountEntry(b, c%perBlock, bits), nil
}

// refcountEntry decodes entry k of a refcount block of bits-wide entries.
func refcountEntry(b []byte, k, bits uint64) uint64 {
	switch bits {
	case 64:
		return binary.BigEndian.Uint64(b[8*k:])
	case 32:
		return uint64(binary.BigEndian.Uint32(b[4*k:]))
	case 16:
		return uint64(binary.BigEndian.Uint16(b[2*k:]))
	case 8:
		return uint64(b[k])
	}
	// 1, 2 and 4 bits: the least significant bits of a byte come first.
	perByte := 8 / bits
	return uint64(b[k/perByte]>>((k%perByte)*bits)) & (1<<bits - 1)
}
