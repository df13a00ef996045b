package qcow2

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrNotQcow2 means the file does not start with the qcow2 magic.
	ErrNotQcow2 = errors.New("not a qcow2 file")
	// ErrCorrupt means a structure needed to read the virtual disk is invalid.
	ErrCorrupt = errors.New("corrupt structure")
	// ErrTruncated means the file ends before a structure it refers to.
	ErrTruncated = errors.New("file is truncated")
	// ErrUnsupported means the image needs something this package cannot
	// do: an unknown incompatible feature bit or header version. Its
	// structures are still shown, but the disk cannot be read.
	ErrUnsupported = errors.New("unsupported feature")
	// ErrEncrypted means the image's data is encrypted (legacy AES or
	// LUKS); its structures are shown but its data cannot be read.
	ErrEncrypted = errors.New("encrypted image")
	// ErrBeyondEnd means a read started at or beyond the end of the
	// virtual disk.
	ErrBeyondEnd = errors.New("read beyond the virtual disk size")
	// ErrBackingRequired means the image has a backing file or an external
	// data file, which this package cannot reach from the image alone.
	ErrBackingRequired = errors.New("the image needs its backing file or data file")
)

// A FormatError describes a problem in one structure of the file.
type FormatError struct {
	Structure string // e.g. "header", "L1 entry 7", "snapshot 2"
	Offset    int64  // file offset of the structure or field, -1 if unknown
	Msg       string // what is wrong, for people
	Err       error  // the sentinel error it wraps
}

// Error describes the problem with its structure and offset.
func (e *FormatError) Error() string {
	where := e.Structure
	if e.Offset >= 0 {
		where = fmt.Sprintf("%s at offset %#x", e.Structure, e.Offset)
	}
	if e.Msg == "" {
		return fmt.Sprintf("qcow2: %s: %v", where, e.Err)
	}
	return fmt.Sprintf("qcow2: %s: %s (%v)", where, e.Msg, e.Err)
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(err error, structure string, off int64, format string, args ...any) *FormatError {
	return &FormatError{Structure: structure, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}
