package qcow2

import (
	"encoding/binary"
	"fmt"
)

// maxBitmapDirectory is the largest bitmap directory QEMU reads.
const maxBitmapDirectory = 64 << 20

// bitmaps counts the bitmap directory, the bitmap tables and the clusters
// they reference, when the bitmaps extension is valid (its autoclear bit
// set), as QEMU does.
func (c *checker) bitmaps() {
	img := c.img
	bm := img.Bitmaps
	if bm == nil || bm.NbBitmaps == 0 || img.Header.AutoclearFeatures&AutoclearBitmaps == 0 {
		return
	}
	c.inc(bm.DirectoryOffset, bm.DirectorySize, true)
	if bm.DirectorySize > maxBitmapDirectory || !inFile(bm.DirectoryOffset, bm.DirectorySize, img.Size) {
		c.add(countCorruption, "bitmaps.directory", SeverityError, "bitmap directory", bm.Offset, "the directory (%d bytes at %#x) is too large or past the end of the file", bm.DirectorySize, bm.DirectoryOffset)
		return
	}
	dir := make([]byte, bm.DirectorySize)
	if err := readFull(img.r, dir, int64(bm.DirectoryOffset), "bitmap directory"); err != nil {
		c.add(countCorruption, "bitmaps.directory", SeverityError, "bitmap directory", int64(bm.DirectoryOffset), "%v", err)
		return
	}
	be := binary.BigEndian
	for pos, i := uint64(0), uint32(0); i < bm.NbBitmaps; i++ {
		if pos+24 > uint64(len(dir)) {
			c.add(countCorruption, "bitmaps.directory", SeverityError, "bitmap directory", int64(bm.DirectoryOffset+pos), "entry %d runs past the directory", i)
			return
		}
		tableOff, tableSize := be.Uint64(dir[pos:]), uint64(be.Uint32(dir[pos+8:]))
		nameSize, extra := uint64(be.Uint16(dir[pos+18:])), uint64(be.Uint32(dir[pos+20:]))
		where := fmt.Sprintf("bitmap %d", i)
		c.inc(tableOff, tableSize*8, true)
		if !inFile(tableOff, tableSize*8, img.Size) {
			c.add(countCorruption, "bitmaps.table", SeverityError, where, int64(bm.DirectoryOffset+pos), "the bitmap table (%d entries at %#x) is past the end of the file", tableSize, tableOff)
		} else {
			t := make([]byte, tableSize*8)
			if err := readFull(img.r, t, int64(tableOff), where); err != nil {
				c.add(countCorruption, "bitmaps.table", SeverityError, where, int64(tableOff), "%v", err)
				return
			}
			for j := uint64(0); j < tableSize; j++ {
				if off := be.Uint64(t[8*j:]) & tableOffsetMask; off != 0 {
					c.inc(off, c.clusterSz, true)
				}
			}
		}
		pos += (24 + extra + nameSize + 7) &^ 7
	}
}
