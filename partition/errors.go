package partition

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrSectorSize means the sector size is not 512, 1024, 2048 or 4096.
	ErrSectorSize = errors.New("unsupported sector size")
	// ErrRead means the disk could not be read.
	ErrRead = errors.New("read error")
	// ErrNotLVM means no LVM2 label was found in the first four sectors.
	ErrNotLVM = errors.New("not an LVM2 physical volume")
	// ErrCorrupt means a structure is invalid.
	ErrCorrupt = errors.New("corrupt structure")
	// ErrUnsupported means a structure uses a feature this package does not read.
	ErrUnsupported = errors.New("unsupported feature")
)

// A FormatError describes a problem in one structure of the disk.
type FormatError struct {
	Structure string // e.g. "GPT header", "EBR 3", "LVM2 metadata"
	Offset    int64  // disk offset of the structure or field, -1 if unknown
	Msg       string // what is wrong, for people
	Err       error  // the sentinel error it wraps, or the reader's error
}

func (e *FormatError) Error() string {
	where := e.Structure
	if e.Offset >= 0 {
		where = fmt.Sprintf("%s at offset %#x", e.Structure, e.Offset)
	}
	if e.Msg == "" {
		return fmt.Sprintf("partition: %s: %v", where, e.Err)
	}
	return fmt.Sprintf("partition: %s: %s (%v)", where, e.Msg, e.Err)
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(err error, structure string, off int64, format string, args ...any) *FormatError {
	return &FormatError{Structure: structure, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}
