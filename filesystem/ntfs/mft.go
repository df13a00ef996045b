package ntfs

import (
	"encoding/binary"
	"unicode/utf16"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"www.velocidex.com/golang/go-ntfs/parser"
)

// Record is what the MFT scan reads from one MFT record, fixups applied.
type Record struct {
	Number   uint64
	Offset   int64 // byte offset in the $MFT stream
	Sequence uint16
	InUse    bool
	Dir      bool
	Base     uint64 // base record of an extension record; 0 in a base record
	Names    []FileName
}

// FileName is the part of a $FILE_NAME attribute the scan keeps.
type FileName struct {
	Parent    uint64 // parent directory's record number
	ParentSeq uint16
	Namespace byte // 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS
	Name      string
}

// name returns the record's long name (any namespace but DOS).
func (r *Record) name() (FileName, bool) {
	for _, n := range r.Names {
		if n.Namespace != 2 {
			return n, true
		}
	}
	return FileName{}, false
}

// parseRecord reads MFT record number n from b (one whole record), which
// it fixes up in place.
func parseRecord(b []byte, n uint64, off int64) (*Record, error) {
	le := binary.LittleEndian
	if len(b) < 0x30 || string(b[:4]) != "FILE" {
		return nil, filesystem.Corrupt("MFT record", off, "no FILE signature")
	}
	usa, count := int(le.Uint16(b[4:])), int(le.Uint16(b[6:]))
	if count == 0 || usa+2*count > len(b) || (count-1)*512 > len(b) {
		return nil, filesystem.Corrupt("MFT record", off, "update sequence array at %#x, %d entries", usa, count)
	}
	for i := 1; i < count; i++ {
		end := i*512 - 2
		if b[end] != b[usa] || b[end+1] != b[usa+1] {
			return nil, filesystem.Corrupt("MFT record", off+int64(end), "torn write: update sequence number mismatch")
		}
		b[end], b[end+1] = b[usa+2*i], b[usa+2*i+1]
	}
	flags := le.Uint16(b[0x16:])
	r := &Record{
		Number:   n,
		Offset:   off,
		Sequence: le.Uint16(b[0x10:]),
		InUse:    flags&1 != 0,
		Dir:      flags&2 != 0,
		Base:     le.Uint64(b[0x20:]) & (1<<48 - 1),
	}
	used := min(int(le.Uint32(b[0x18:])), len(b))
	for a := int(le.Uint16(b[0x14:])); a+16 <= used; {
		typ, length := le.Uint32(b[a:]), int(le.Uint32(b[a+4:]))
		if typ == 0xFFFFFFFF || length < 16 || a+length > used {
			break
		}
		if typ == parser.ATTR_TYPE_FILE_NAME && b[a+8] == 0 && length >= 0x18 {
			size, co := int(le.Uint32(b[a+0x10:])), int(le.Uint16(b[a+0x14:]))
			if co+size <= length && size >= 0x42 {
				c := b[a+co : a+co+size]
				nl := int(c[0x40])
				if 0x42+2*nl <= size {
					u := make([]uint16, nl)
					for i := range u {
						u[i] = le.Uint16(c[0x42+2*i:])
					}
					ref := le.Uint64(c)
					r.Names = append(r.Names, FileName{Parent: ref & (1<<48 - 1), ParentSeq: uint16(ref >> 48), Namespace: c[0x41], Name: string(utf16.Decode(u))})
				}
			}
		}
		a += length
	}
	return r, nil
}

// scanOrphans reads every MFT record and groups the base records not in
// use by the parent directory their $FILE_NAME names.
func (fsys *FS) scanOrphans() error {
	fsys.orphans = map[uint64][]*Record{}
	m0, err := fsys.mft(0)
	if err != nil {
		return err
	}
	mftSize, err := filesystem.Guard(library, func() (int64, error) {
		a, err := m0.GetAttribute(fsys.ctx, parser.ATTR_TYPE_DATA, -1, "")
		if err != nil {
			return 0, err
		}
		return a.DataSize(), nil
	})
	if err != nil {
		return err
	}
	rs := fsys.ctx.GetRecordSize()
	if rs <= 0 || mftSize < 0 || mftSize > fsys.size {
		return filesystem.Corrupt("$MFT", 0, "record size %d, $MFT size %d", rs, mftSize)
	}
	mft := filesystem.GuardReaderAt(library, fsys.ctx.MFTReader)
	const batch = 256
	buf := make([]byte, batch*rs)
	for off := int64(0); off < mftSize; off += int64(len(buf)) {
		n, _ := mft.ReadAt(buf[:min(int64(len(buf)), mftSize-off)], off)
		for i := int64(0); (i+1)*rs <= int64(n); i++ {
			rec, err := parseRecord(buf[i*rs:(i+1)*rs], uint64((off+i*rs)/rs), off+i*rs)
			if err != nil || rec.InUse || rec.Base != 0 {
				continue
			}
			if fn, ok := rec.name(); ok {
				fsys.orphans[fn.Parent] = append(fsys.orphans[fn.Parent], rec)
			}
		}
		if n == 0 {
			break
		}
	}
	return nil
}
