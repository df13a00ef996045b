package filesystem

import "io"

// FS browses one filesystem. Paths are "/"-separated from the root ("/").
// Implementations are safe for use by one goroutine at a time.
type FS interface {
	// ReadDir returns the entries of a directory, without "." and "..",
	// deleted ones included and marked.
	ReadDir(path string) ([]Entry, error)
	// Stat describes the entry at path.
	Stat(path string) (Entry, error)
	// Open opens a file's data. On NTFS, "path:name" opens an alternate
	// data stream.
	Open(path string) (File, error)
	// Extents says where a file's bytes lie, as byte ranges from the start
	// of the filesystem, in file order. Holes and data held inside
	// metadata (resident, inline) have no extent.
	Extents(path string) ([]Extent, error)
}

// File is the data of a file, read at any offset.
type File interface {
	io.ReaderAt
	Size() int64
}

// Extent is a run of a file's bytes stored contiguously.
type Extent struct {
	FileOffset int64 // offset in the file
	Offset     int64 // offset from the start of the filesystem
	Length     int64 // bytes
}

// Limits on work that only damaged or looping structures reach.
const (
	// MaxDirEntries bounds the entries of one directory.
	MaxDirEntries = 1 << 21
	// MaxDepth bounds the depth of paths and walks.
	MaxDepth = 512
)
