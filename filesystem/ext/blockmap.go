package ext

import (
	"encoding/binary"
	"sort"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// run maps Length logical blocks of a file from Logical to Physical.
// Unwritten (preallocated) runs read as zeros.
type run struct {
	Logical, Physical, Length uint64
	Unwritten                 bool
}

// mapper collects runs within a work budget.
type mapper struct {
	fsys    *FS
	nblocks uint64 // blocks covered by the file's size
	budget  int64  // block pointers and extent entries left to visit
	runs    []run
}

func (m *mapper) add(r run) error {
	if r.Logical >= m.nblocks || r.Length == 0 {
		return nil
	}
	r.Length = min(r.Length, m.nblocks-r.Logical)
	if r.Physical+r.Length > uint64(m.fsys.size/m.fsys.blockSize) || r.Physical+r.Length < r.Physical {
		return filesystem.Corrupt("block map", int64(r.Physical)*m.fsys.blockSize, "blocks %d+%d beyond the end of the filesystem", r.Physical, r.Length)
	}
	if n := len(m.runs); n > 0 {
		p := &m.runs[n-1]
		if p.Logical+p.Length == r.Logical && p.Physical+p.Length == r.Physical && p.Unwritten == r.Unwritten {
			p.Length += r.Length
			return nil
		}
	}
	m.runs = append(m.runs, r)
	return nil
}

func (m *mapper) spend(n int64) error {
	m.budget -= n
	if m.budget < 0 {
		return &filesystem.FormatError{Structure: "block map", Err: filesystem.ErrWorkLimit, Detail: "more block pointers than the filesystem has blocks"}
	}
	return nil
}

// runs returns the block runs of ino's data in logical order, without holes.
func (fsys *FS) runs(ino *Inode) ([]run, error) {
	bs := uint64(fsys.blockSize)
	m := &mapper{fsys: fsys, nblocks: (uint64(ino.Size) + bs - 1) / bs, budget: fsys.size/fsys.blockSize + 64}
	var err error
	if ino.Flags&flagExtents != 0 {
		err = m.extents(ino.Block[:], -1, ino.Offset+0x28)
	} else {
		err = m.indirect(ino.Block[:])
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(m.runs, func(i, j int) bool { return m.runs[i].Logical < m.runs[j].Logical })
	for i := 1; i < len(m.runs); i++ {
		if p := m.runs[i-1]; p.Logical+p.Length > m.runs[i].Logical {
			return nil, filesystem.Corrupt("extent tree", ino.Offset+0x28, "overlapping extents at logical block %d", m.runs[i].Logical)
		}
	}
	return m.runs, nil
}

// extents walks an extent tree node; want is its expected depth (-1 at the
// root, which may have any depth up to 5).
func (m *mapper) extents(node []byte, want int, off int64) error {
	le := binary.LittleEndian
	if len(node) < 12 || le.Uint16(node) != 0xF30A {
		return filesystem.Corrupt("extent header", off, "bad magic")
	}
	entries, depth := int(le.Uint16(node[2:])), int(le.Uint16(node[6:]))
	if depth > 5 || (want >= 0 && depth != want) || entries > (len(node)-12)/12 {
		return filesystem.Corrupt("extent header", off, "depth %d (want %d), %d entries", depth, want, entries)
	}
	if err := m.spend(int64(entries)); err != nil {
		return err
	}
	for i := 0; i < entries; i++ {
		e := node[12+12*i:]
		logical := uint64(le.Uint32(e))
		if depth == 0 {
			n := uint64(le.Uint16(e[4:]))
			unwritten := n > 32768
			if unwritten {
				n -= 32768
			}
			phys := uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:]))
			if err := m.add(run{logical, phys, n, unwritten}); err != nil {
				return err
			}
			continue
		}
		child := uint64(le.Uint32(e[4:])) | uint64(le.Uint16(e[8:]))<<32
		b, err := m.fsys.block(child, "extent tree node")
		if err != nil {
			return err
		}
		if err := m.extents(b, depth-1, int64(child)*m.fsys.blockSize); err != nil {
			return err
		}
	}
	return nil
}

// indirect walks the twelve direct pointers and the single, double and
// triple indirect blocks of an ext2/3 block map.
func (m *mapper) indirect(block []byte) error {
	le := binary.LittleEndian
	per := uint64(m.fsys.blockSize / 4)
	logical := uint64(0)
	for i := 0; i < 12; i++ {
		if p := uint64(le.Uint32(block[4*i:])); p != 0 {
			if err := m.add(run{logical, p, 1, false}); err != nil {
				return err
			}
		}
		logical++
	}
	span := uint64(1)
	for level := 1; level <= 3; level++ {
		span *= per
		if logical >= m.nblocks {
			return nil
		}
		p := uint64(le.Uint32(block[48+4*(level-1):]))
		if err := m.pointers(p, level, logical); err != nil {
			return err
		}
		logical += span
	}
	return nil
}

// pointers maps the blocks under indirect block p of the given level,
// whose first logical block is logical.
func (m *mapper) pointers(p uint64, level int, logical uint64) error {
	if p == 0 || logical >= m.nblocks {
		return nil
	}
	b, err := m.fsys.block(p, "indirect block")
	if err != nil {
		return err
	}
	per := uint64(len(b) / 4)
	if err := m.spend(int64(per)); err != nil {
		return err
	}
	span := uint64(1)
	for i := 1; i < level; i++ {
		span *= per
	}
	for i := uint64(0); i < per; i++ {
		q := uint64(binary.LittleEndian.Uint32(b[4*i:]))
		l := logical + i*span
		switch {
		case q == 0:
		case level == 1:
			err = m.add(run{l, q, 1, false})
		default:
			err = m.pointers(q, level-1, l)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
