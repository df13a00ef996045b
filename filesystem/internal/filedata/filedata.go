// Package filedata reads a file's data through the byte ranges of the
// filesystem that hold it, for the filesystems read by our own code (ext,
// XFS, FAT) and the bounds of any filesystem.File's ReadAt.
package filedata

import (
	"io"
	"sort"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// Source is the bytes of a filesystem.
type Source struct {
	R    io.ReaderAt
	Size int64
}

// Read reads len(p) bytes at off, failing with a *filesystem.FormatError
// naming structure when they are not all there.
func (s Source) Read(p []byte, off int64, structure string) error {
	if off < 0 || off > s.Size || int64(len(p)) > s.Size-off {
		return filesystem.Corrupt(structure, off, "%d bytes beyond the end of the filesystem", len(p))
	}
	if _, err := s.R.ReadAt(p, off); err != nil {
		return &filesystem.FormatError{Structure: structure, Offset: off, Err: filesystem.ErrCorrupt, Detail: err.Error()}
	}
	return nil
}

// Run is where Length bytes of a file from FileOffset lie: at byte Offset
// of the filesystem. An unwritten (preallocated) run reads as zeros.
type Run struct {
	FileOffset, Offset, Length int64
	Unwritten                  bool
}

// File is a file's data: Inline bytes held in the inode from offset 0,
// then Runs, in file order and not overlapping. Bytes in neither (holes),
// and bytes from Valid on, read as zeros.
type File struct {
	Src      Source
	FileSize int64
	Valid    int64 // the valid data length (exFAT); FileSize elsewhere
	Inline   []byte
	Runs     []Run
}

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return f.FileSize }

// ReadAt reads the file's data at off.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return ReadAt(p, off, f.FileSize, f.fill)
}

// fill fills p from file offset off, which lies within the file; it
// returns how many bytes it filled.
func (f *File) fill(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		if pos >= f.Valid {
			clear(p[done:])
			break
		}
		q := p[done:]
		var n int64
		if pos < int64(len(f.Inline)) {
			n = int64(copy(q, f.Inline[pos:min(int64(len(f.Inline)), f.Valid)]))
		} else {
			i := sort.Search(len(f.Runs), func(i int) bool { return f.Runs[i].FileOffset+f.Runs[i].Length > pos })
			if i == len(f.Runs) || f.Runs[i].FileOffset > pos {
				// A hole up to the next run.
				end := f.FileSize
				if i < len(f.Runs) {
					end = f.Runs[i].FileOffset
				}
				n = min(int64(len(q)), end-pos, f.Valid-pos)
				clear(q[:n])
			} else {
				r := f.Runs[i]
				n = min(int64(len(q)), r.FileOffset+r.Length-pos, f.Valid-pos)
				if r.Unwritten {
					clear(q[:n])
				} else if err := f.Src.Read(q[:n], r.Offset+pos-r.FileOffset, "file data"); err != nil {
					return done, err
				}
			}
		}
		done += int(n)
	}
	return done, nil
}

// Extents returns the file's written runs as filesystem byte ranges, cut
// at the file's size.
func (f *File) Extents() []filesystem.Extent {
	return Extents(f.Runs, f.FileSize)
}

// Extents returns the written runs that start before size as filesystem
// byte ranges, the last cut at size.
func Extents(runs []Run, size int64) []filesystem.Extent {
	var out []filesystem.Extent
	for _, r := range runs {
		if r.Unwritten || r.FileOffset >= size {
			continue
		}
		out = append(out, filesystem.Extent{FileOffset: r.FileOffset, Offset: r.Offset, Length: min(r.Length, size-r.FileOffset)})
	}
	return out
}

// ReadAt is io.ReaderAt for a file of size bytes: it rejects a negative
// offset, answers io.EOF at or after the end, and has fill read the part of
// p within the file (fill returns how many bytes it read and any error).
// It returns io.EOF with the bytes read when p reaches past the end.
func ReadAt(p []byte, off, size int64, fill func(p []byte, off int64) (int, error)) (int, error) {
	if off < 0 {
		return 0, filesystem.Corrupt("file", off, "negative offset")
	}
	if off >= size {
		return 0, io.EOF
	}
	want := len(p)
	p = p[:min(int64(want), size-off)]
	if n, err := fill(p, off); err != nil {
		return n, err
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}
