package filesystem

import (
	"strconv"
	"strings"
	"time"
)

// typeChar is the letter The Sleuth Kit uses for an entry type.
func typeChar(t EntryType) byte {
	switch t {
	case TypeFile:
		return 'r'
	case TypeDir:
		return 'd'
	case TypeSymlink:
		return 'l'
	case TypeFIFO:
		return 'p'
	case TypeSocket:
		return 's'
	case TypeDevice:
		return 'b'
	}
	return '-'
}

// ModeString renders the type and permissions of e as The Sleuth Kit does
// in body files ("r/rrw-r--r--").
func ModeString(e Entry) string {
	c := typeChar(e.Type)
	if e.Type == TypeDevice && e.Mode&0xF000 == 0x2000 {
		c = 'c'
	}
	perm := e.Mode & 0o7777
	b := []byte{c, '/', c}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if perm&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	special := []struct {
		bit uint32
		pos int
		set byte
	}{{0o4000, 5, 's'}, {0o2000, 8, 's'}, {0o1000, 11, 't'}}
	for _, s := range special {
		if perm&s.bit != 0 {
			if b[s.pos] == 'x' {
				b[s.pos] = s.set
			} else {
				b[s.pos] = s.set - 'a' + 'A'
			}
		}
	}
	return string(b)
}

// BodyLine renders e as one line of a body file for The Sleuth Kit's
// mactime (MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime),
// as fls -m writes it: no MD5 ("0"), times in Unix seconds (0 when not
// kept), " (deleted)" after a removed name, " -> target" after a symbolic
// link's. prefix is put before the path (fls's -m argument).
func BodyLine(prefix string, e Entry) string {
	name := strings.TrimSuffix(prefix, "/") + e.Path
	if e.Type == TypeSymlink && e.Target != "" {
		name += " -> " + e.Target
	}
	if e.Deleted {
		name += " (deleted)"
	}
	secs := func(t *time.Time) string {
		if t == nil {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	uid, gid := "0", "0"
	if e.HasOwner {
		uid, gid = strconv.FormatUint(uint64(e.UID), 10), strconv.FormatUint(uint64(e.GID), 10)
	}
	return strings.Join([]string{"0", name, e.ID, ModeString(e), uid, gid, strconv.FormatInt(e.Size, 10),
		secs(e.Accessed), secs(e.Modified), secs(e.Changed), secs(e.Born)}, "|")
}

// DOSMode returns the type and permission bits The Sleuth Kit derives from
// FAT and NTFS attributes: read unless read-only (0x1), write unless hidden
// (0x2), always execute.
func DOSMode(attributes uint32, dir bool) uint32 {
	mode := uint32(0o111)
	if attributes&0x1 == 0 {
		mode |= 0o444
	}
	if attributes&0x2 == 0 {
		mode |= 0o222
	}
	if dir {
		return mode | 0o40000
	}
	return mode | 0o100000
}
