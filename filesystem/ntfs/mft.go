package ntfs

import (
	"encoding/binary"
	"strconv"
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
	// SI is the content of $STANDARD_INFORMATION (at most 0x48 bytes).
	SI []byte
	// DataSize is the size of the unnamed $DATA stream; Streams are the
	// named ones.
	DataSize int64
	Streams  []filesystem.Stream
	// AttrList is set when an $ATTRIBUTE_LIST places attributes in other
	// records, which the record alone does not describe.
	AttrList bool
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
		resident := b[a+8] == 0
		var content []byte
		if resident && length >= 0x18 {
			size, co := int(le.Uint32(b[a+0x10:])), int(le.Uint16(b[a+0x14:]))
			if co+size <= length {
				content = b[a+co : a+co+size]
			}
		}
		switch typ {
		case parser.ATTR_TYPE_STANDARD_INFORMATION:
			r.SI = append([]byte(nil), content[:min(len(content), 0x48)]...)
		case parser.ATTR_TYPE_ATTRIBUTE_LIST:
			r.AttrList = true
		case parser.ATTR_TYPE_FILE_NAME:
			if fn, ok := fileName(content); ok {
				r.Names = append(r.Names, fn)
			}
		case parser.ATTR_TYPE_DATA:
			size := int64(len(content))
			if !resident {
				if length < 0x38 || le.Uint64(b[a+0x10:]) != 0 {
					break // a later piece of a stream split over records
				}
				size = int64(le.Uint64(b[a+0x30:]))
			}
			nl, no := int(b[a+9]), int(le.Uint16(b[a+10:]))
			if nl == 0 {
				r.DataSize = size
			} else if no+2*nl <= length {
				r.Streams = append(r.Streams, filesystem.Stream{Name: utf16le(b[a+no : a+no+2*nl]), Size: size})
			}
		}
		a += length
	}
	return r, nil
}

// fileName reads the content of a $FILE_NAME attribute.
func fileName(c []byte) (FileName, bool) {
	if len(c) < 0x42 || 0x42+2*int(c[0x40]) > len(c) {
		return FileName{}, false
	}
	ref := binary.LittleEndian.Uint64(c)
	return FileName{Parent: ref & (1<<48 - 1), ParentSeq: uint16(ref >> 48), Namespace: c[0x41], Name: utf16le(c[0x42 : 0x42+2*int(c[0x40])])}, true
}

// utf16le decodes little-endian UTF-16.
func utf16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// maxCached bounds the MFT records kept from the scan (about 200 bytes
// each); a larger MFT is described record by record through the library.
const maxCached = 1 << 21

// scanMFT reads every MFT record once: it keeps the base records (up to
// maxCached) to describe entries without reading them again, and groups
// the base records not in use by the parent directory their $FILE_NAME
// names.
func (fsys *FS) scanMFT() error {
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
	if mftSize/rs <= maxCached {
		fsys.records = make([]*Record, mftSize/rs)
	}
	mft := filesystem.GuardReaderAt(library, fsys.ctx.MFTReader)
	const batch = 256
	buf := make([]byte, batch*rs)
	for off := int64(0); off < mftSize; off += int64(len(buf)) {
		n, _ := mft.ReadAt(buf[:min(int64(len(buf)), mftSize-off)], off)
		for i := int64(0); (i+1)*rs <= int64(n); i++ {
			num := (off + i*rs) / rs
			rec, err := parseRecord(buf[i*rs:(i+1)*rs], uint64(num), off+i*rs)
			if err != nil || rec.Base != 0 {
				continue
			}
			if fsys.records != nil {
				fsys.records[num] = rec
			}
			if fn, ok := rec.name(); ok && !rec.InUse {
				fsys.orphans[fn.Parent] = append(fsys.orphans[fn.Parent], rec)
			}
		}
		if n == 0 {
			break
		}
	}
	return nil
}

// record returns MFT record id as the scan read it, nil when it was not
// kept or needs its attribute list.
func (fsys *FS) record(id uint64) *Record {
	if id >= uint64(len(fsys.records)) || fsys.records[id] == nil || fsys.records[id].AttrList {
		return nil
	}
	return fsys.records[id]
}

// describeRecord builds the entry of a record read by the scan.
func describeRecord(rec *Record, name, p string) filesystem.Entry {
	e := filesystem.Entry{
		Name:    name,
		Path:    p,
		Type:    filesystem.TypeFile,
		ID:      strconv.FormatUint(rec.Number, 10) + "-" + strconv.FormatUint(uint64(rec.Sequence), 10),
		Deleted: !rec.InUse,
		Streams: rec.Streams,
	}
	if rec.Dir {
		e.Type = filesystem.TypeDir
	} else {
		e.Size = rec.DataSize
	}
	if len(rec.SI) >= 0x24 {
		standardInformation(&e, rec.SI)
	}
	return e
}
