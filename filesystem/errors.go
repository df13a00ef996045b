package filesystem

import (
	"errors"
	"fmt"
)

// Errors returned by the browsing API and its adapters, wrapped in a
// *FormatError or *PathError where there is more to say.
var (
	// ErrNotFound: no entry at the path.
	ErrNotFound = errors.New("no such file or directory")
	// ErrNotDir: a path component or ReadDir's argument is not a directory.
	ErrNotDir = errors.New("not a directory")
	// ErrIsDir: Open or Extents was given a directory.
	ErrIsDir = errors.New("is a directory")
	// ErrCorrupt: a structure of the filesystem is damaged.
	ErrCorrupt = errors.New("filesystem structure damaged")
	// ErrLibraryPanic: a third-party reader panicked; the panic was recovered.
	ErrLibraryPanic = errors.New("filesystem reader panicked")
	// ErrWorkLimit: a directory, path or walk exceeded a bound that only a
	// damaged or looping structure reaches.
	ErrWorkLimit = errors.New("work limit exceeded")
	// ErrUnknownType: no browser for this filesystem type.
	ErrUnknownType = errors.New("filesystem type cannot be browsed")
)

// FormatError reports a damaged structure of a filesystem and the byte
// offset, from the start of the filesystem, where it was read.
type FormatError struct {
	Structure string // e.g. "superblock", "MFT record", "directory entry"
	Offset    int64
	Err       error // a sentinel above, usually ErrCorrupt
	Detail    string
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("%s at offset %#x: %v", e.Structure, e.Offset, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

// Corrupt returns a *FormatError wrapping ErrCorrupt.
func Corrupt(structure string, offset int64, format string, args ...any) error {
	return &FormatError{Structure: structure, Offset: offset, Err: ErrCorrupt, Detail: fmt.Sprintf(format, args...)}
}

// PathError records the operation and path of a failed call.
type PathError struct {
	Op   string // "readdir", "stat", "open", "extents"
	Path string
	Err  error
}

func (e *PathError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

func (e *PathError) Unwrap() error { return e.Err }
