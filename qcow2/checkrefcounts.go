package qcow2

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// inc counts one reference to every cluster of [off, off+n).
func (c *checker) inc(off, n uint64, meta bool) { c.incTimes(off, n, meta, 1) }

// incTimes counts times references to every cluster of [off, off+n).
func (c *checker) incTimes(off, n uint64, meta bool, times uint64) {
	if n == 0 || c.aborted {
		return
	}
	first, last := off/c.clusterSz, (off+n-1)/c.clusterSz
	if off+n < off {
		last = ^uint64(0) / c.clusterSz
	}
	if last >= min(maxCheckClusters, c.fileEnd+maxClustersPastEnd) {
		c.add(countCheckError, "check.too_large", SeverityError, "cluster", -1, "a reference to file offset %#x is beyond what Check can count", last*c.clusterSz)
		c.aborted = true
		return
	}
	if last >= uint64(len(c.computed)) {
		c.computed = append(c.computed, make([]uint16, last+1-uint64(len(c.computed)))...)
	}
	for k := first; k <= last; k++ {
		if over := (uint64(c.computed[k]) + times) - min(uint64(c.computed[k])+times, c.refMax); over > 0 {
			c.addTimes(int64(over), countCorruption, "refcount.overflow", SeverityError, fmt.Sprintf("cluster %d", k), int64(k*c.clusterSz), "more references than a refcount can count")
		}
		c.computed[k] = uint16(min(uint64(c.computed[k])+times, c.refMax))
		if k < c.fileEnd {
			isMeta := c.metadata[k/64]>>(k%64)&1 != 0
			if meta && c.computed[k] > 1 || !meta && isMeta {
				c.add(countNone, "metadata.overlap", SeverityError, fmt.Sprintf("cluster %d", k), int64(k*c.clusterSz), "the cluster is used both as metadata and as something else")
			}
			if meta {
				c.metadata[k/64] |= 1 << (k % 64)
			}
		}
	}
}

// readZeroPadded reads len(b) bytes at off, as QEMU does: what lies past
// the end of the file reads as zeros.
func (c *checker) readZeroPadded(b []byte, off uint64) error {
	clear(b)
	if off >= uint64(c.img.Size) {
		return nil
	}
	n := min(uint64(len(b)), uint64(c.img.Size)-off)
	return readFull(c.img.r, b[:n], int64(off), "table")
}

// l1 counts an L1 table and everything it references. table is the table
// when already read.
func (c *checker) l1(off, size uint64, where string, table []uint64) {
	c.inc(off, size*8, true)
	if table == nil && size > 0 {
		b := make([]byte, size*8) // size is bounded by MaxL1Bytes
		if err := c.readZeroPadded(b, off); err != nil {
			c.add(countCheckError, "l1.unreadable", SeverityError, where, int64(off), "%v", err)
			return
		}
		table = make([]uint64, size)
		for i := range table {
			table[i] = binary.BigEndian.Uint64(b[8*i:])
		}
	}
	if off+size*8 > uint64(c.img.Size) && size > 0 {
		c.add(countNone, "l1.beyond_end", SeverityError, where, int64(off), "the table runs past the end of the file")
	}
	// Entries sharing an L2 table are counted together: the table is
	// read once, however many entries point to it.
	shared := map[uint64]uint64{}
	var order []uint64
	for i, e := range table {
		if e == 0 {
			continue
		}
		l2 := e & tableOffsetMask
		entry := func() string { return fmt.Sprintf("%s entry %d", where, i) }
		c.inc(l2, c.clusterSz, true)
		if l2%c.clusterSz != 0 {
			c.add(countCorruption, "l1.unaligned", SeverityError, entry(), int64(off)+int64(8*i), "L2 table offset %#x is not cluster aligned", l2)
		}
		if l2+c.clusterSz > uint64(c.img.Size) {
			c.add(countNone, "l1.beyond_end", SeverityError, entry(), int64(off)+int64(8*i), "L2 table at %#x is past the end of the file", l2)
		}
		if shared[l2] == 0 {
			order = append(order, l2)
		}
		shared[l2]++
	}
	for _, l2 := range order {
		if c.aborted {
			return
		}
		c.l2(l2, fmt.Sprintf("L2 table at %#x of %s", l2, where), shared[l2])
	}
}

// l2 counts the clusters an L2 table references and checks its entries.
func (c *checker) l2(off uint64, where string, times uint64) {
	img := c.img
	if off >= uint64(img.Size) {
		return // reads as zeros: nothing allocated
	}
	if err := c.readZeroPadded(c.buf, off); err != nil {
		c.addTimes(int64(times), countCheckError, "l2.unreadable", SeverityError, where, int64(off), "%v", err)
		return
	}
	n := int64(times)
	size := uint64(img.entrySize())
	for j := uint64(0); j+size <= c.clusterSz; j += size {
		e := l2Entry{raw: binary.BigEndian.Uint64(c.buf[j:])}
		if size == 16 {
			e.bitmap = binary.BigEndian.Uint64(c.buf[j+8:])
		}
		at := int64(off + j)
		entry := func() string { return fmt.Sprintf("entry %d of %s", j/size, where) }
		switch img.clusterKind(e) {
		case Compressed:
			if e.raw&flagCopied != 0 {
				c.addTimes(n, countCorruption, "l2.compressed_copied", SeverityError, entry(), at, "the copied flag is set on a compressed cluster")
			}
			if c.dataFile {
				c.addTimes(n, countCorruption, "l2.compressed_data_file", SeverityError, entry(), at, "a compressed cluster in an image with an external data file")
				continue
			}
			if e.bitmap != 0 {
				c.addTimes(n, countCorruption, "l2.compressed_bitmap", SeverityError, entry(), at, "a compressed cluster with a non-zero subcluster bitmap %#x", e.bitmap)
				continue
			}
			coff, clen := img.compressedDescriptor(e.raw)
			if uint64(coff) >= uint64(img.Size) {
				c.add(countNone, "l2.compressed_beyond_end", SeverityError, entry(), at, "compressed data at %#x starts past the end of the file", coff)
			}
			c.incTimes(uint64(coff), uint64(clen), false, times)
		case Normal, ZeroAllocated:
			host := e.raw & tableOffsetMask
			// Only clusters holding data must lie in the file: QEMU
			// allocates zero ones without writing them.
			need := c.clusterSz // bytes of the cluster that hold data
			if size == 16 {
				need = uint64(bits.Len32(uint32(e.bitmap))) * c.clusterSz / 32
			}
			if img.clusterKind(e) != Normal {
				need = 0
			}
			if e.bitmap>>32&e.bitmap != 0 {
				c.addTimes(n, countCorruption, "l2.bitmap", SeverityError, entry(), at, "subclusters are marked both allocated and zero (bitmap %#x)", e.bitmap)
			}
			if host%c.clusterSz != 0 {
				c.addTimes(n, countCorruption, "l2.unaligned", SeverityError, entry(), at, "data cluster offset %#x is not cluster aligned", host)
			}
			if !c.dataFile {
				if host+need > uint64(img.Size) {
					c.add(countNone, "l2.beyond_end", SeverityError, entry(), at, "data cluster at %#x is past the end of the file", host)
				}
				c.incTimes(host, c.clusterSz, false, times)
			}
		case Unallocated:
			if e.bitmap&0xffffffff != 0 {
				c.addTimes(n, countCorruption, "l2.bitmap", SeverityError, entry(), at, "an unallocated cluster has allocated subclusters (bitmap %#x)", e.bitmap)
			}
		}
		if c.aborted {
			return
		}
	}
}

// refcountBlocks counts and checks the refcount blocks.
func (c *checker) refcountBlocks() {
	h := c.img.Header
	for i, e := range c.img.RefcountTable {
		where := fmt.Sprintf("refcount table entry %d", i)
		at := int64(h.RefcountTableOffset) + int64(8*i)
		if e%c.clusterSz != 0 {
			c.add(countCorruption, "refcount_table.unaligned", SeverityError, where, at, "refcount block offset %#x is not cluster aligned", e)
			continue
		}
		k := e / c.clusterSz
		if k >= uint64(len(c.computed)) {
			c.add(countCorruption, "refcount_table.beyond_end", SeverityError, where, at, "refcount block at %#x is outside the image", e)
			continue
		}
		if e == 0 {
			continue
		}
		c.inc(e, c.clusterSz, true)
		if c.computed[k] != 1 {
			c.add(countCorruption, "refcount_block.shared", SeverityError, where, at, "the refcount block at %#x is referenced %d times", e, c.computed[k])
		}
	}
}

// compare compares stored and computed refcounts cluster by cluster.
func (c *checker) compare() {
	for k := range uint64(len(c.computed)) {
		stored, err := c.img.refcount(k)
		where := func() string { return fmt.Sprintf("cluster %d", k) }
		at := int64(k * c.clusterSz)
		if err != nil {
			c.add(countCheckError, "refcount.unreadable", SeverityError, where(), at, "%v", err)
			continue
		}
		computed := uint64(c.computed[k])
		switch {
		case stored == computed:
		case stored == 0:
			c.add(countCorruption, "refcount.zero_used", SeverityError, where(), at, "the cluster is used %d times but its refcount is 0", computed)
		case stored < computed:
			c.add(countCorruption, "refcount.too_low", SeverityError, where(), at, "the cluster is used %d times but its refcount is %d", computed, stored)
		default:
			c.add(countLeak, "refcount.leak", SeverityWarning, where(), at, "leaked cluster: refcount %d, used %d times", stored, computed)
		}
	}
}

// copiedFlags checks that the copied flag of the active L1 and L2 entries
// is set exactly when the cluster's refcount is 1.
func (c *checker) copiedFlags() {
	img := c.img
	shared := map[uint64]uint64{} // L2 table offset: entries pointing to it
	var order []uint64
	for i, e := range img.L1 {
		l2 := e & tableOffsetMask
		if l2 == 0 {
			continue
		}
		rc, err := img.refcount(l2 / c.clusterSz)
		if err != nil {
			continue
		}
		if (rc == 1) != (e&flagCopied != 0) {
			c.add(countCorruption, "l1.copied", SeverityError, fmt.Sprintf("L1 entry %d", i), int64(img.Header.L1TableOffset)+int64(8*i), "the copied flag disagrees with the L2 table's refcount %d", rc)
		}
		if shared[l2] == 0 {
			order = append(order, l2)
		}
		shared[l2]++
	}
	size := uint64(img.entrySize())
	for _, l2 := range order {
		if l2 >= uint64(img.Size) {
			continue // reads as zeros
		}
		if err := c.readZeroPadded(c.buf, l2); err != nil {
			c.add(countCheckError, "l2.unreadable", SeverityError, fmt.Sprintf("L2 table at %#x", l2), int64(l2), "%v", err)
			return
		}
		for j := uint64(0); j+size <= c.clusterSz; j += size {
			le := l2Entry{raw: binary.BigEndian.Uint64(c.buf[j:])}
			if k := img.clusterKind(le); k != Normal && k != ZeroAllocated {
				continue
			}
			rc := uint64(1)
			if !c.dataFile {
				var err error
				if rc, err = img.refcount((le.raw & tableOffsetMask) / c.clusterSz); err != nil {
					continue
				}
			}
			if (rc == 1) != (le.raw&flagCopied != 0) {
				c.addTimes(int64(shared[l2]), countCorruption, "l2.copied", SeverityError, fmt.Sprintf("entry %d of L2 table at %#x", j/size, l2), int64(l2+j), "the copied flag disagrees with the data cluster's refcount %d", rc)
			}
		}
	}
}
