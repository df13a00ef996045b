package fat

import (
	"encoding/binary"
	"time"
	"unicode/utf16"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// exFAT directory entry types without the in-use bit (0x80).
const (
	exfatBitmap = 0x01
	exfatUpcase = 0x02
	exfatFile   = 0x05
	exfatStream = 0x40
	exfatName   = 0x41
)

// exfatSystem names the allocation bitmap and up-case table entries as
// The Sleuth Kit does; they are listed as read-only hidden system files.
var exfatSystem = map[byte]string{0x80 | exfatBitmap: "$ALLOC_BITMAP", 0x80 | exfatUpcase: "$UPCASE_TABLE"}

// exfatEntries parses an exFAT directory of n at path dir: each entry set
// (file, stream extension, names), in use or deleted (in-use bits clear).
func (fsys *FS) exfatEntries(n *node, dir string) ([]*node, error) {
	data, offs, err := fsys.slots(n)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []*node
	for i := 0; i < len(offs); i++ {
		d := data[32*i : 32*i+32]
		if d[0] == 0 {
			break
		}
		if name, ok := exfatSystem[d[0]]; ok {
			const attrs = 0x7 // read-only, hidden, system
			e := filesystem.Entry{Name: name, Path: filesystem.JoinPath(dir, name), Type: filesystem.TypeFile,
				Size: int64(le.Uint64(d[24:])), Attributes: attrs, Mode: filesystem.DOSMode(attrs, false), ID: fsys.slotID(offs[i])}
			out = append(out, &node{entry: e, first: le.Uint32(d[20:]), valid: e.Size})
			continue
		}
		if d[0]&0x7F != exfatFile {
			continue
		}
		inUse := d[0]&0x80 != 0
		sec := int(d[1])
		if sec < 2 || i+sec >= len(offs) {
			continue
		}
		set := data[32*i : 32*(i+1+sec)]
		s := set[32:64]
		if s[0] != d[0]&0x80|exfatStream || (inUse && setChecksum(set) != le.Uint16(d[2:])) {
			continue
		}
		nameLen := int(s[3])
		var u []uint16
		for k := 2; k <= sec && len(u) < nameLen; k++ {
			e := set[32*k : 32*k+32]
			if e[0] != d[0]&0x80|exfatName {
				break
			}
			for j := 2; j < 32 && len(u) < nameLen; j += 2 {
				u = append(u, le.Uint16(e[j:]))
			}
		}
		if len(u) != nameLen || nameLen == 0 {
			continue
		}
		name := string(utf16.Decode(u))
		attrs := uint32(le.Uint16(d[4:]))
		e := filesystem.Entry{
			Name:       name,
			Path:       filesystem.JoinPath(dir, name),
			Type:       filesystem.TypeFile,
			Size:       int64(le.Uint64(s[24:])),
			Born:       exfatTime(le.Uint32(d[8:]), d[20], d[22]),
			Modified:   exfatTime(le.Uint32(d[12:]), d[21], d[23]),
			Accessed:   exfatTime(le.Uint32(d[16:]), 0, d[24]),
			Attributes: attrs,
			Mode:       filesystem.DOSMode(attrs, attrs&attrDirectory != 0),
			ID:         fsys.slotID(offs[i]),
			Deleted:    !inUse,
		}
		if attrs&attrDirectory != 0 {
			e.Type = filesystem.TypeDir
		}
		c := &node{entry: e, first: le.Uint32(s[20:]), contiguous: s[1]&0x2 != 0 || !inUse, valid: int64(le.Uint64(s[8:]))}
		if e.Size < 0 || c.valid < 0 || c.valid > e.Size {
			c.valid = max(0, e.Size)
		}
		if out = append(out, c); len(out) > filesystem.MaxDirEntries {
			return nil, &filesystem.FormatError{Structure: "directory", Offset: offs[i], Err: filesystem.ErrWorkLimit, Detail: "too many entries"}
		}
		i += sec
	}
	return out, nil
}

// setChecksum computes an entry set's checksum, bytes 2-3 of its first
// entry left out.
func setChecksum(set []byte) uint16 {
	var sum uint16
	for i, b := range set {
		if i == 2 || i == 3 {
			continue
		}
		sum = (sum>>1 | sum<<15) + uint16(b)
	}
	return sum
}

// exfatTime converts an exFAT timestamp (a FAT date and time), its 10 ms
// increment and its UTC offset (bit 7 set: the low 7 bits are a signed
// count of 15 minutes) to UTC. Without a valid offset the local time is
// read as UTC.
func exfatTime(ts uint32, tenMs, utc byte) *time.Time {
	t := dosTime(uint16(ts>>16), uint16(ts), int(tenMs))
	if t == nil || utc&0x80 == 0 {
		return t
	}
	q := int(int8(utc<<1) >> 1)
	u := t.Add(-time.Duration(q) * 15 * time.Minute)
	return &u
}
