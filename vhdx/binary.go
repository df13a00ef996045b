package vhdx

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"unicode/utf16"

	"github.com/google/uuid"
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

const (
	kib = 1 << 10
	mib = 1 << 20
	tib = 1 << 40
)

// crcWithHole computes CRC-32C of b as if the 4-byte checksum field at pos were zero.
func crcWithHole(b []byte, pos int) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, b[:pos])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, b[pos+4:])
}

// guidAt decodes a GUID stored in Microsoft's mixed-endian layout.
func guidAt(b []byte) uuid.UUID {
	var u uuid.UUID
	u[0], u[1], u[2], u[3] = b[3], b[2], b[1], b[0]
	u[4], u[5] = b[5], b[4]
	u[6], u[7] = b[7], b[6]
	copy(u[8:], b[8:16])
	return u
}

// utf16String decodes UTF-16LE text, stopping at the first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := le.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// readAt reads len(b) bytes at off, reporting a short read as ErrTruncated.
func readAt(r io.ReaderAt, b []byte, off int64, structure string) error {
	if off < 0 || off > math.MaxInt64-int64(len(b)) {
		// An offset computed from a huge on-disk value: no file reaches it.
		return formatErr(ErrTruncated, structure, off, "needs %d bytes at an offset no file reaches", len(b))
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return formatErr(ErrTruncated, structure, off, "needs %d bytes, file has %d", len(b), n)
	}
	var fe *FormatError
	if errors.As(err, &fe) {
		return err // already names its structure and offset (a replayed view reading the log)
	}
	return &FormatError{Structure: structure, Offset: off, Err: err}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// spanEnd returns off+n and whether it fits in an int64 file offset.
func spanEnd(off, n uint64) (uint64, bool) {
	end := off + n
	return end, end >= off && end <= math.MaxInt64
}

// fileEnd is off+n as a file offset, saturated at math.MaxInt64 (which no
// file reaches), for comparisons that must not wrap.
func fileEnd(off, n uint64) int64 {
	if end, ok := spanEnd(off, n); ok {
		return int64(end)
	}
	return math.MaxInt64
}
