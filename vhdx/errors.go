package vhdx

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrNotVHDX means the file does not start with the VHDX file type identifier.
	ErrNotVHDX = errors.New("not a VHDX file")
	// ErrHeadersCorrupt means neither header is valid.
	ErrHeadersCorrupt = errors.New("both headers are corrupt")
	// ErrRegionTablesCorrupt means neither region table is valid.
	ErrRegionTablesCorrupt = errors.New("both region tables are corrupt")
	// ErrUnsupported means the file requires a feature this package does not
	// know: an unknown region or metadata item marked required.
	ErrUnsupported = errors.New("unsupported required feature")
	// ErrCorrupt means a structure needed to read the virtual disk is invalid.
	ErrCorrupt = errors.New("corrupt structure")
	// ErrTruncated means the file ends before a structure or block it refers to.
	ErrTruncated = errors.New("file is truncated")
	// ErrBeyondEnd means a read started at or beyond the end of the virtual disk.
	ErrBeyondEnd = errors.New("read beyond the virtual disk size")
	// ErrParentRequired means the data lives in a parent disk, which this
	// package cannot reach from a differencing disk alone.
	ErrParentRequired = errors.New("differencing disk: data lives in the parent disk")
)

// A FormatError describes a problem in one structure of the file.
type FormatError struct {
	Structure string // e.g. "header 1", "region table 2", "BAT entry 17"
	Offset    int64  // file offset of the structure or field, -1 if unknown
	Msg       string // what is wrong, for people
	Err       error  // the sentinel error it wraps
}

func (e *FormatError) Error() string {
	where := e.Structure
	if e.Offset >= 0 {
		where = fmt.Sprintf("%s at offset %#x", e.Structure, e.Offset)
	}
	if e.Msg == "" {
		return fmt.Sprintf("vhdx: %s: %v", where, e.Err)
	}
	return fmt.Sprintf("vhdx: %s: %s (%v)", where, e.Msg, e.Err)
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(err error, structure string, off int64, format string, args ...any) *FormatError {
	return &FormatError{Structure: structure, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}
