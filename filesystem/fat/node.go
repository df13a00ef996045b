package fat

import (
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
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

// file reads data held in clusters.
type file struct {
	fsys   *FS
	runs   []run
	starts []int64 // byte offset in the file of each run
	size   int64
	valid  int64
}

func (fsys *FS) open(n *node) (*file, error) {
	runs, err := fsys.runs(n, n.entry.Size)
	if err != nil {
		return nil, err
	}
	f := &file{fsys: fsys, runs: runs, size: n.entry.Size, valid: n.valid}
	pos := int64(0)
	for _, r := range runs {
		f.starts = append(f.starts, pos)
		pos += int64(r.count) * fsys.vol.ClusterSize()
	}
	if pos < min(f.valid, f.size) {
		return nil, filesystem.Corrupt("FAT", fsys.vol.FATOffset, "cluster chain of %q holds %d of %d bytes", n.entry.Path, pos, f.size)
	}
	return f, nil
}

func (f *file) Size() int64 { return f.size }

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, filesystem.Corrupt("file", off, "negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := len(p)
	p = p[:min(int64(want), f.size-off)]
	for done := 0; done < len(p); {
		pos := off + int64(done)
		if pos >= f.valid {
			clear(p[done:])
			break
		}
		i := sort.Search(len(f.starts), func(i int) bool { return f.starts[i] > pos }) - 1
		r := f.runs[i]
		in := pos - f.starts[i]
		n := min(int64(len(p)-done), int64(r.count)*f.fsys.vol.ClusterSize()-in, f.valid-pos)
		if err := f.fsys.readAt(p[done:done+int(n)], f.fsys.clusterOffset(r.first)+in, "file data"); err != nil {
			return done, err
		}
		done += int(n)
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// extents returns the file's clusters as byte ranges of the filesystem.
func (f *file) extents() []filesystem.Extent {
	var out []filesystem.Extent
	for i, r := range f.runs {
		if f.starts[i] >= f.size {
			break
		}
		out = append(out, filesystem.Extent{FileOffset: f.starts[i], Offset: f.fsys.clusterOffset(r.first), Length: min(int64(r.count)*f.fsys.vol.ClusterSize(), f.size-f.starts[i])})
	}
	return out
}
