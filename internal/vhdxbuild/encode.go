package vhdxbuild

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"

	"github.com/google/uuid"
)

// EncodeU32 returns v as 4 little-endian bytes.
func EncodeU32(v uint32) []byte {
	return binary.LittleEndian.AppendUint32(nil, v)
}

// EncodeU64 returns v as 8 little-endian bytes.
func EncodeU64(v uint64) []byte {
	return binary.LittleEndian.AppendUint64(nil, v)
}

// EncodeFileParameters returns the 8-byte File Parameters item: BlockSize
// then flags (FileParamLeaveBlocksAllocated, FileParamHasParent).
func EncodeFileParameters(blockSize, flags uint32) []byte {
	b := EncodeU32(blockSize)
	return binary.LittleEndian.AppendUint32(b, flags)
}

// EncodeUTF16 returns s as UTF-16LE without terminator.
func EncodeUTF16(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// FormatParentLinkage formats a GUID the way parent_linkage values are
// written: "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (lower case).
func FormatParentLinkage(u uuid.UUID) string {
	return "{" + strings.ToLower(u.String()) + "}"
}

// EncodeParentLocator returns a parent locator item: the 20-byte header
// (LocatorType, Reserved, KeyValueCount), one 12-byte entry per pair
// (KeyOffset, ValueOffset, KeyLength, ValueLength; offsets relative to the
// item start) and then, for each pair in order, the key and the value in
// UTF-16LE. Pairs are written in the given order, so duplicates and empty
// strings are possible.
func EncodeParentLocator(locatorType uuid.UUID, kvs []KeyValue) []byte {
	const hdr = 20
	const entry = 12
	b := make([]byte, hdr+entry*len(kvs))
	PutGUID(b[0:16], locatorType)
	binary.LittleEndian.PutUint16(b[18:20], uint16(len(kvs)))
	for i, kv := range kvs {
		k, v := EncodeUTF16(kv.Key), EncodeUTF16(kv.Value)
		e := hdr + entry*i
		binary.LittleEndian.PutUint32(b[e:], uint32(len(b)))
		binary.LittleEndian.PutUint32(b[e+4:], uint32(len(b)+len(k)))
		binary.LittleEndian.PutUint16(b[e+8:], uint16(len(k)))
		binary.LittleEndian.PutUint16(b[e+10:], uint16(len(v)))
		b = append(b, k...)
		b = append(b, v...)
	}
	return b
}
