package fat

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// Directory entry attribute bits.
const (
	attrVolumeID  = 0x08
	attrDirectory = 0x10
	attrLongName  = 0x0F
)

// slots reads the 32-byte entries of directory n and the byte offset of
// each.
func (fsys *FS) slots(n *node) ([]byte, []int64, error) {
	var spans [][2]int64
	if n.entry.Path == "/" && fsys.vol.Kind != FAT32 && fsys.vol.Kind != ExFAT {
		spans = [][2]int64{{fsys.vol.RootOffset, fsys.vol.RootSize}}
	} else {
		cs := fsys.vol.ClusterSize()
		limit := int64(filesystem.MaxDirEntries)*32/cs + 1
		var runs []run
		var err error
		if n.contiguous {
			runs = fsys.contiguous(n.first, (n.entry.Size+cs-1)/cs)
		} else {
			runs, err = fsys.chain(n.first, min(limit, int64(fsys.vol.Clusters)))
		}
		if err != nil {
			return nil, nil, err
		}
		for _, r := range runs {
			spans = append(spans, [2]int64{fsys.clusterOffset(r.first), int64(r.count) * cs})
		}
	}
	var data []byte
	var offs []int64
	for _, s := range spans {
		if int64(len(data))+s[1] > int64(filesystem.MaxDirEntries)*32 {
			return nil, nil, &filesystem.FormatError{Structure: "directory", Offset: s[0], Err: filesystem.ErrWorkLimit, Detail: "too many entries"}
		}
		b := make([]byte, s[1])
		if err := fsys.readAt(b, s[0], "directory"); err != nil {
			return nil, nil, err
		}
		data = append(data, b...)
		for o := int64(0); o+32 <= s[1]; o += 32 {
			offs = append(offs, s[0]+o)
		}
	}
	return data, offs, nil
}

// fatEntries parses a FAT12/16/32 directory of n at path dir: live
// entries, and deleted ones (first byte 0xE5) with their long names where
// the long-name entries survive.
func (fsys *FS) fatEntries(n *node, dir string) ([]*node, error) {
	data, offs, err := fsys.slots(n)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []*node
	var long [][]uint16 // long-name pieces in disk order (last piece first)
	var sums []byte
	for i, off := range offs {
		d := data[32*i : 32*i+32]
		if d[0] == 0 {
			break
		}
		deleted := d[0] == 0xE5
		if d[11]&0x3F == attrLongName {
			if !deleted && d[0]&0x40 != 0 {
				long, sums = nil, nil
			}
			piece := make([]uint16, 0, 13)
			for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
				for j := r[0]; j < r[1]; j += 2 {
					piece = append(piece, le.Uint16(d[j:]))
				}
			}
			long, sums = append(long, piece), append(sums, d[13])
			continue
		}
		name := shortName(d, deleted)
		longName, ok := joinLong(long, sums, d, deleted)
		long, sums = nil, nil
		if d[11]&attrVolumeID != 0 || name == "." || name == ".." {
			continue
		}
		if ok {
			name = longName
		}
		attrs := uint32(d[11])
		e := filesystem.Entry{
			Name:       name,
			Path:       filesystem.JoinPath(dir, name),
			Type:       filesystem.TypeFile,
			Size:       int64(le.Uint32(d[28:])),
			Modified:   dosTime(le.Uint16(d[24:]), le.Uint16(d[22:]), 0),
			Accessed:   dosTime(le.Uint16(d[18:]), 0, 0),
			Born:       dosTime(le.Uint16(d[16:]), le.Uint16(d[14:]), int(d[13])),
			Attributes: attrs,
			Mode:       filesystem.DOSMode(attrs, attrs&attrDirectory != 0),
			ID:         fsys.slotID(off),
			Deleted:    deleted,
		}
		c := &node{first: uint32(le.Uint16(d[20:]))<<16 | uint32(le.Uint16(d[26:])), contiguous: deleted}
		if fsys.vol.Kind != FAT32 {
			c.first &= 0xFFFF
		}
		if attrs&attrDirectory != 0 {
			e.Type = filesystem.TypeDir
			e.Size = 0
			if !deleted {
				runs, err := fsys.chain(c.first, int64(fsys.vol.Clusters))
				if err == nil {
					for _, r := range runs {
						e.Size += int64(r.count) * fsys.vol.ClusterSize()
					}
				}
			}
		}
		c.entry, c.valid = e, e.Size
		if out = append(out, c); len(out) > filesystem.MaxDirEntries {
			return nil, &filesystem.FormatError{Structure: "directory", Offset: off, Err: filesystem.ErrWorkLimit, Detail: "too many entries"}
		}
	}
	return out, nil
}

// shortName renders an 8.3 name, lower-cased where the entry says so; the
// lost first letter of a deleted one is shown as "_".
func shortName(d []byte, deleted bool) string {
	b := append([]byte(nil), d[:11]...)
	switch {
	case deleted:
		b[0] = '_'
	case b[0] == 0x05:
		b[0] = 0xE5
	}
	base, ext := strings.TrimRight(latin1(b[:8]), " "), strings.TrimRight(latin1(b[8:11]), " ")
	if d[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if d[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext != "" {
		return base + "." + ext
	}
	return base
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// joinLong assembles the long name from its pieces, when they belong to
// the short entry d: same checksum in every piece, equal to the short
// name's (a deleted entry has lost its first byte, so only the pieces'
// agreement is checked).
func joinLong(pieces [][]uint16, sums []byte, d []byte, deleted bool) (string, bool) {
	if len(pieces) == 0 {
		return "", false
	}
	var sum byte
	for _, c := range d[:11] {
		sum = (sum>>1 | sum<<7) + c
	}
	var u []uint16
	for i := len(pieces) - 1; i >= 0; i-- {
		if sums[i] != sums[0] || (!deleted && sums[i] != sum) {
			return "", false
		}
		u = append(u, pieces[i]...)
	}
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	if len(u) == 0 {
		return "", false
	}
	return string(utf16.Decode(u)), true
}
