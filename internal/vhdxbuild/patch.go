package vhdxbuild

import "encoding/binary"

// Patch returns a copy of b, the serialised im, with patches applied and
// the checksums of both headers, both region tables and every log entry
// that lies inside the log made valid again, so that fuzzed bytes reach
// the checks behind the checksums.
//
// patches is a sequence of [area, offset (2 bytes, little endian), n,
// n bytes]; the offset counts from the start of the area: 0 and 1 the
// headers, 2 and 3 the region tables, 4 the log, 5 the metadata region,
// 6 the BAT, 7 the whole file (there in 64-byte steps). A truncated last
// patch writes what it has; bytes past the file's end are dropped.
func (im *Image) Patch(b []byte, patches []byte) []byte {
	b = append([]byte(nil), b...)
	areas := []int64{Header1Offset, Header2Offset, RegionTable1Offset, RegionTable2Offset, int64(im.LogOffset), int64(im.MetadataOffset), int64(im.BATOffset), 0}
	for p := patches; len(p) >= 4; {
		area, off, n := int(p[0])%len(areas), int64(binary.LittleEndian.Uint16(p[1:])), int(p[3])
		if area == 7 {
			off *= 64
		}
		p = p[4:]
		n = min(n, len(p))
		if at := areas[area] + off; at < int64(len(b)) {
			copy(b[at:], p[:n])
		}
		p = p[n:]
	}
	for _, off := range []int64{Header1Offset, Header2Offset} {
		if off+HeaderSize <= int64(len(b)) {
			FixHeaderChecksum(b, off)
		}
	}
	for _, off := range []int64{RegionTable1Offset, RegionTable2Offset} {
		if off+RegionTableSize <= int64(len(b)) {
			FixRegionTableChecksum(b, off)
		}
	}
	start, end := int64(im.LogOffset), min(int64(im.LogOffset)+int64(im.LogLength), int64(len(b)))
	for s := start; s+LogSectorSize <= end; s += LogSectorSize {
		if string(b[s:s+4]) != "loge" {
			continue
		}
		if n := int64(binary.LittleEndian.Uint32(b[s+8:])); n > 0 && n%LogSectorSize == 0 && s+n <= end {
			FixChecksumAt(b, s, n)
		}
	}
	return b
}
