package ntfs

import (
	"encoding/binary"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// filetime converts a Windows FILETIME (100 ns intervals since 1601-01-01
// UTC) to a time; 0 means not set.
func filetime(ft uint64) *time.Time {
	if ft == 0 {
		return nil
	}
	const unixEpoch = 11644473600 // seconds from 1601 to 1970
	t := time.Unix(int64(ft/1e7)-unixEpoch, int64(ft%1e7)*100).UTC()
	return &t
}

// standardInformation sets e's times, attributes, owner ID (NTFS 3.0 and
// later) and permissions (filesystem.DOSMode) from a
// $STANDARD_INFORMATION attribute, si (at least 0x24 bytes).
func standardInformation(e *filesystem.Entry, si []byte) {
	le := binary.LittleEndian
	e.Born = filetime(le.Uint64(si[0:]))
	e.Modified = filetime(le.Uint64(si[8:]))
	e.Changed = filetime(le.Uint64(si[0x10:]))
	e.Accessed = filetime(le.Uint64(si[0x18:]))
	e.Attributes = le.Uint32(si[0x20:])
	if len(si) >= 0x34 {
		e.HasOwner, e.UID = true, le.Uint32(si[0x30:])
	}
	e.Mode = filesystem.DOSMode(e.Attributes, e.Type == filesystem.TypeDir)
}
