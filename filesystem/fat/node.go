package fat

import (
	"strconv"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
)

// node is a directory entry with where its data lies.
type node struct {
	entry filesystem.Entry
	first uint32 // first cluster; 0 for an empty file
	// contiguous: the data lies in consecutive clusters from first, not
	// through the FAT (exFAT's NoFatChain, or a deleted FAT entry whose
	// chain was freed).
	contiguous bool
	valid      int64 // exFAT valid data length: bytes beyond read as zeros
}

// slotID returns The Sleuth Kit's inode number of the directory entry at
// byte offset off: its 32-byte slot counted from Volume.SlotBase, plus 3
// (2 is the root directory).
func (fsys *FS) slotID(off int64) string {
	return strconv.FormatInt((off-fsys.vol.SlotBase)/32+3, 10)
}

// dosTime converts a FAT date and time (local time, kept without zone; read
// as UTC) plus hundredths of a second; a zero or invalid date is nil.
func dosTime(date, tm uint16, hundredths int) *time.Time {
	y, m, d := 1980+int(date>>9), time.Month(date>>5&15), int(date&31)
	h, mi, s := int(tm>>11), int(tm>>5&63), int(tm&31)*2
	if date == 0 || m < 1 || m > 12 || d < 1 || h > 23 || mi > 59 || s > 59 || hundredths > 199 {
		return nil
	}
	t := time.Date(y, m, d, h, mi, s, hundredths*10_000_000, time.UTC)
	return &t
}

// runs returns where n's data lies, in file order.
func (fsys *FS) runs(n *node, size int64) ([]run, error) {
	cs := fsys.vol.ClusterSize()
	need := (size + cs - 1) / cs
	if n.contiguous {
		return fsys.contiguous(n.first, need), nil
	}
	return fsys.chain(n.first, need)
}

// open returns n's data, held in clusters.
func (fsys *FS) open(n *node) (*filedata.File, error) {
	runs, err := fsys.runs(n, n.entry.Size)
	if err != nil {
		return nil, err
	}
	f := &filedata.File{Src: fsys.src(), FileSize: n.entry.Size, Valid: n.valid, Runs: make([]filedata.Run, len(runs))}
	cs := fsys.vol.ClusterSize()
	pos := int64(0)
	for i, r := range runs {
		f.Runs[i] = filedata.Run{FileOffset: pos, Offset: fsys.clusterOffset(r.first), Length: int64(r.count) * cs}
		pos += int64(r.count) * cs
	}
	if pos < min(f.Valid, f.FileSize) {
		return nil, filesystem.Corrupt("FAT", fsys.vol.FATOffset, "cluster chain of %q holds %d of %d bytes", n.entry.Path, pos, f.FileSize)
	}
	return f, nil
}
