package filesystem

import "time"

// EntryType is the kind of a directory entry.
type EntryType string

// Entry types.
const (
	TypeFile    EntryType = "file"
	TypeDir     EntryType = "dir"
	TypeSymlink EntryType = "symlink"
	TypeDevice  EntryType = "device"
	TypeFIFO    EntryType = "fifo"
	TypeSocket  EntryType = "socket"
	TypeOther   EntryType = "other"
)

// ModeType returns the entry type named by the file-type bits of a Unix
// st_mode (S_IFMT), as ext and XFS inodes keep it.
func ModeType(mode uint32) EntryType {
	switch mode & 0xF000 {
	case 0x8000:
		return TypeFile
	case 0x4000:
		return TypeDir
	case 0xA000:
		return TypeSymlink
	case 0x2000, 0x6000:
		return TypeDevice
	case 0x1000:
		return TypeFIFO
	case 0xC000:
		return TypeSocket
	}
	return TypeOther
}

// Entry describes one directory entry. Times are UTC; a nil time is one the
// filesystem does not keep.
type Entry struct {
	Name string    // the name in its directory
	Path string    // "/"-separated from the filesystem root, starting with "/"
	Type EntryType // file, dir, symlink, ...
	Size int64     // bytes of the file's (main) data

	Modified *time.Time // content last written
	Accessed *time.Time // last read
	Changed  *time.Time // metadata last changed (inode or MFT record)
	Born     *time.Time // created

	// Mode holds Unix permission bits with the file-type bits (st_mode).
	// FAT and NTFS keep none: there it holds the permissions The Sleuth
	// Kit derives from their attributes.
	Mode uint32
	// Attributes holds FAT and NTFS attribute bits (read-only 0x1, hidden
	// 0x2, system 0x4, directory 0x10, archive 0x20, ...); 0 elsewhere.
	Attributes uint32
	// HasOwner says whether UID and GID are kept.
	HasOwner bool
	UID, GID uint32

	// ID identifies the entry's on-disk record: the inode number (ext,
	// XFS), "record-sequence" of the MFT record (NTFS), or for FAT and
	// exFAT the number The Sleuth Kit gives the directory entry (its
	// 32-byte slot counted from the end of the FATs, or from exFAT's
	// cluster heap, plus 3; the root is 2).
	ID string
	// Deleted marks an entry that the filesystem no longer uses but still
	// holds (a FAT directory entry marked free, an NTFS MFT record not in
	// use, an ext directory entry whose inode was freed).
	Deleted bool
	// Streams lists NTFS alternate data streams, opened as "path:name".
	Streams []Stream
	// Target is a symbolic link's target.
	Target string
}

// Stream is an NTFS alternate data stream.
type Stream struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// IsDir reports whether e is a directory.
func (e *Entry) IsDir() bool { return e.Type == TypeDir }
