// Package ntfs browses NTFS filesystems with www.velocidex.com/golang/go-ntfs
// (boot sector, MFT, attribute lists, directory indexes, data runs, LZNT1
// compression, sparse files, alternate data streams), every call made
// behind filesystem.Guard. Deleted files, which the library does not list,
// are found by this package's own scan of the MFT for records not in use
// (mft.go).
package ntfs

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"www.velocidex.com/golang/go-ntfs/parser"
)

const library = "go-ntfs"

// rootRecord is the MFT record of the root directory.
const rootRecord = 5

// FS is an open NTFS filesystem.
type FS struct {
	ctx  *parser.NTFSContext
	r    io.ReaderAt
	size int64
	dirs map[string]uint64 // directory path -> MFT record, resolved so far
	// orphans maps a directory's record to the records not in use whose
	// $FILE_NAME names it as parent; records holds the base records by
	// number. Both are built by the MFT scan on first use.
	orphans map[uint64][]*Record
	records []*Record
}

// Open reads the boot sector and the MFT of the NTFS filesystem held in
// r's first size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	lr := &limitedReader{r, size}
	ctx, err := filesystem.Guard(library, func() (*parser.NTFSContext, error) {
		return parser.GetNTFSContext(lr, 0)
	})
	switch {
	case errors.Is(err, filesystem.ErrLibraryPanic):
		return nil, err
	case err != nil:
		return nil, &filesystem.FormatError{Structure: "boot sector", Offset: 0, Err: filesystem.ErrCorrupt, Detail: err.Error()}
	}
	if rs := ctx.RecordSize; rs != 0 && (rs < 256 || rs > 65536) {
		return nil, filesystem.Corrupt("boot sector", 0x40, "MFT record size %d", rs)
	}
	return &FS{ctx: ctx, r: lr, size: size, dirs: map[string]uint64{"/": rootRecord}}, nil
}

// limitedReader ends reads at the end of the filesystem.
type limitedReader struct {
	r    io.ReaderAt
	size int64
}

func (l *limitedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= l.size {
		return 0, io.EOF
	}
	if int64(len(p)) > l.size-off {
		n, err := l.r.ReadAt(p[:l.size-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return l.r.ReadAt(p, off)
}

// mft returns MFT record id through the library.
func (fsys *FS) mft(id uint64) (*parser.MFT_ENTRY, error) {
	return filesystem.Guard(library, func() (*parser.MFT_ENTRY, error) {
		m, err := fsys.ctx.GetMFT(int64(id))
		if err != nil {
			return nil, fmt.Errorf("MFT record %d: %w", id, err)
		}
		if !m.Magic().IsValid() {
			return nil, filesystem.Corrupt("MFT record", int64(id)*fsys.ctx.GetRecordSize(), "no FILE signature")
		}
		return m, nil
	})
}

// describe builds the entry of record id (m) named name at path p.
func (fsys *FS) describe(id uint64, m *parser.MFT_ENTRY, name, p string) (filesystem.Entry, error) {
	return filesystem.Guard(library, func() (filesystem.Entry, error) {
		flags := m.Flags().Value
		e := filesystem.Entry{
			Name:    name,
			Path:    p,
			Type:    filesystem.TypeFile,
			ID:      fmt.Sprintf("%d-%d", id, m.Sequence_value()),
			Deleted: flags&1 == 0,
		}
		if flags&2 != 0 {
			e.Type = filesystem.TypeDir
		}
		for _, attr := range m.EnumerateAttributes(fsys.ctx) {
			switch attr.Type().Value {
			case parser.ATTR_TYPE_STANDARD_INFORMATION:
				var si [0x34]byte
				if n, _ := attr.Data(fsys.ctx).ReadAt(si[:], 0); n >= 0x24 {
					standardInformation(&e, si[:n])
				}
			case parser.ATTR_TYPE_DATA:
				if !attr.IsResident() && attr.Runlist_vcn_start() != 0 {
					continue // a later piece of a stream split over records
				}
				if n := attr.Name(); n != "" {
					e.Streams = append(e.Streams, filesystem.Stream{Name: n, Size: attr.DataSize()})
				} else if e.Type == filesystem.TypeFile {
					e.Size = attr.DataSize()
				}
			}
		}
		return e, nil
	})
}

// splitStream splits "path:stream" into the path and the stream name.
func splitStream(p string) (string, string) {
	i := strings.LastIndexByte(p, ':')
	if i < 0 || strings.Contains(p[i:], "/") {
		return p, ""
	}
	return p[:i], p[i+1:]
}
