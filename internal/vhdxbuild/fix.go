package vhdxbuild

import "encoding/binary"

// Corruption helpers: they operate on serialised bytes (the result of
// Bytes), so a test can damage a field and then make the checksum valid
// again, to reach the code that checks the field rather than the checksum.

// FixChecksumAt recomputes the CRC-32C of b[off:off+length] with the
// 4-byte checksum field at off+4 zeroed and stores it there. Headers,
// region tables and log entries all keep their checksum at offset 4.
func FixChecksumAt(b []byte, off, length int64) {
	s := b[off : off+length]
	binary.LittleEndian.PutUint32(s[4:8], 0)
	binary.LittleEndian.PutUint32(s[4:8], Checksum(s))
}

// FixHeaderChecksum recomputes the checksum of the 4 KiB header at off
// (Header1Offset or Header2Offset).
func FixHeaderChecksum(b []byte, off int64) {
	FixChecksumAt(b, off, HeaderSize)
}

// FixRegionTableChecksum recomputes the checksum of the 64 KiB region
// table at off (RegionTable1Offset or RegionTable2Offset).
func FixRegionTableChecksum(b []byte, off int64) {
	FixChecksumAt(b, off, RegionTableSize)
}

// FixLogEntryChecksum recomputes the checksum of the log entry at file
// offset off, over the EntryLength stored in it. The entry must not wrap
// around the end of the log.
func FixLogEntryChecksum(b []byte, off int64) {
	n := binary.LittleEndian.Uint32(b[off+8:])
	FixChecksumAt(b, off, int64(n))
}

// ChecksumValid reports whether the checksum at off+4 of
// b[off:off+length] is correct.
func ChecksumValid(b []byte, off, length int64) bool {
	s := make([]byte, length)
	copy(s, b[off:off+length])
	want := binary.LittleEndian.Uint32(s[4:8])
	binary.LittleEndian.PutUint32(s[4:8], 0)
	return Checksum(s) == want
}
