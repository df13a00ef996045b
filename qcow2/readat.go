package qcow2

import (
	"errors"
	"io"
	"math"
)

// readFull reads len(b) bytes at off, turning a short read into an error
// wrapping ErrTruncated.
func readFull(r io.ReaderAt, b []byte, off int64, structure string) error {
	if off < 0 || off > math.MaxInt64-int64(len(b)) {
		return formatErr(ErrTruncated, structure, off, "needs %d bytes at an offset no file reaches", len(b))
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return formatErr(ErrTruncated, structure, off, "needs %d bytes, file has %d", len(b), n)
	}
	return &FormatError{Structure: structure, Offset: off, Msg: err.Error(), Err: err}
}

// inFile reports whether [off, off+n) lies inside a file of size bytes.
func inFile(off, n uint64, size int64) bool {
	return off <= uint64(size) && n <= uint64(size)-off
}
