// Package browse opens the browser for a filesystem by the type name
// filesystem.Probe gives it.
package browse

import (
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/ext"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/fat"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/ntfs"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/xfs"
)

// Types lists the filesystem types Open can browse.
var Types = []string{"ntfs", "fat12", "fat16", "fat32", "exfat", "ext2", "ext3", "ext4", "xfs"}

// Open returns a browser for the filesystem of type typ held in r's first
// size bytes (r starts where the filesystem starts: the caller adds the
// partition offset, e.g. with io.NewSectionReader). It fails with
// filesystem.ErrUnknownType for a type it cannot browse.
func Open(r io.ReaderAt, size int64, typ string) (filesystem.FS, error) {
	switch typ {
	case "ntfs":
		return ntfs.Open(r, size)
	case "fat12", "fat16", "fat32", "exfat":
		return fat.Open(r, size)
	case "ext2", "ext3", "ext4":
		return ext.Open(r, size)
	case "xfs":
		return xfs.Open(r, size)
	}
	return nil, fmt.Errorf("%q: %w", typ, filesystem.ErrUnknownType)
}
