package xfs

import (
	"sort"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// extent maps Count blocks of a file from block StartOff to filesystem
// block StartBlock; Unwritten extents read as zeros.
type extent struct {
	StartOff, StartBlock, Count uint64
	Unwritten                   bool
}

// decodeExtent unpacks a 128-bit big-endian extent record.
func decodeExtent(b []byte) extent {
	hi, lo := be.Uint64(b), be.Uint64(b[8:])
	return extent{
		Unwritten:  hi>>63 != 0,
		StartOff:   hi << 1 >> 10,
		StartBlock: (hi&0x1FF)<<43 | lo>>21,
		Count:      lo & (1<<21 - 1),
	}
}

// extents returns the data fork's extents in file order.
func (fsys *FS) extents(ino *Inode) ([]extent, error) {
	var out []extent
	switch ino.Format {
	case formatExtents:
		if int64(ino.NExtents)*16 > int64(len(ino.Fork)) {
			return nil, filesystem.Corrupt("inode", ino.Offset, "inode %d: %d extents do not fit in its fork", ino.Number, ino.NExtents)
		}
		for i := range int(ino.NExtents) {
			out = append(out, decodeExtent(ino.Fork[16*i:]))
		}
	case formatBtree:
		w := &btreeWalk{fsys: fsys, budget: fsys.size>>fsys.sb.BlockLog + 16}
		if err := w.root(ino); err != nil {
			return nil, err
		}
		out = w.out
	default:
		return nil, nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartOff < out[j].StartOff })
	for i := range out {
		if _, ok := fsys.fsbOffset(out[i].StartBlock); !ok || (i > 0 && out[i-1].StartOff+out[i-1].Count > out[i].StartOff) {
			return nil, filesystem.Corrupt("extent list", ino.Offset, "inode %d: extent %d at block %d", ino.Number, i, out[i].StartBlock)
		}
	}
	return out, nil
}

// btreeWalk collects the extents of a B+tree block map within a budget of
// blocks read.
type btreeWalk struct {
	fsys   *FS
	budget int64
	out    []extent
}

// root reads the B+tree root held in the inode (xfs_bmdr_block).
func (w *btreeWalk) root(ino *Inode) error {
	f := ino.Fork
	if len(f) < 4 {
		return filesystem.Corrupt("bmap root", ino.Offset, "fork too small")
	}
	level, n := int(be.Uint16(f)), int(be.Uint16(f[2:]))
	max := (len(f) - 4) / 16
	if level == 0 || level > 9 || n > max {
		return filesystem.Corrupt("bmap root", ino.Offset, "level %d, %d records of %d", level, n, max)
	}
	for i := range n {
		if err := w.node(be.Uint64(f[4+8*max+8*i:]), level-1); err != nil {
			return err
		}
	}
	return nil
}

// node reads a long-format B+tree block at filesystem block fsb, expected
// at the given level.
func (w *btreeWalk) node(fsb uint64, level int) error {
	if w.budget--; w.budget < 0 {
		return &filesystem.FormatError{Structure: "bmap btree", Err: filesystem.ErrWorkLimit, Detail: "more B+tree blocks than the filesystem has"}
	}
	off, ok := w.fsys.fsbOffset(fsb)
	if !ok {
		return filesystem.Corrupt("bmap btree", 0, "block %d outside the filesystem", fsb)
	}
	b := make([]byte, w.fsys.sb.BlockSize)
	if err := w.fsys.readAt(b, off, "bmap btree block"); err != nil {
		return err
	}
	hdr := 24
	switch string(b[:4]) {
	case "BMAP":
	case "BMA3":
		hdr = 72
	default:
		return filesystem.Corrupt("bmap btree block", off, "no BMAP or BMA3 signature")
	}
	lv, n := int(be.Uint16(b[4:])), int(be.Uint16(b[6:]))
	if lv != level {
		return filesystem.Corrupt("bmap btree block", off, "level %d, want %d", lv, level)
	}
	if level == 0 {
		if hdr+16*n > len(b) {
			return filesystem.Corrupt("bmap btree block", off, "%d records", n)
		}
		for i := range n {
			w.out = append(w.out, decodeExtent(b[hdr+16*i:]))
		}
		return nil
	}
	max := (len(b) - hdr) / 16
	if n > max {
		return filesystem.Corrupt("bmap btree block", off, "%d keys of %d", n, max)
	}
	for i := range n {
		if err := w.node(be.Uint64(b[hdr+8*max+8*i:]), level-1); err != nil {
			return err
		}
	}
	return nil
}
