// Package zipstream writes a ZIP archive in one pass to an io.Writer, its
// members stored without compression. Each member's CRC-32 and sizes
// follow its data in a data descriptor, so nothing is buffered and the
// output never needs seeking. ZIP64 records are written for a member of
// 4 GiB or more, for offsets past 4 GiB and for more than 65,534 members.
package zipstream

import (
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"time"
)

// Signatures and fixed values of APPNOTE.TXT.
const (
	sigLocal         = 0x04034b50
	sigCentral       = 0x02014b50
	sigDescriptor    = 0x08074b50
	sigEnd           = 0x06054b50
	sigEnd64         = 0x06064b50
	sigEnd64Locator  = 0x07064b50
	tagZip64         = 0x0001
	versionDefault   = 20 // 2.0: directories, data descriptors
	versionZip64     = 45 // 4.5: ZIP64 extensions
	flagDescriptor   = 0x0008
	flagUTF8         = 0x0800
	attrDirectory    = 0x10
	max16            = 0xffff
	max32            = 0xffffffff
	localHeaderLen   = 30
	centralHeaderLen = 46
)

// ErrTooLarge reports a member that wrote more bytes than the 4 GiB a
// member announced as small can hold.
var ErrTooLarge = errors.New("zipstream: member larger than announced")

// ErrClosed reports use of a Writer after Close.
var ErrClosed = errors.New("zipstream: writer closed")

// member is what the central directory needs of one member.
type member struct {
	name     string
	dir      bool
	zip64    bool
	crc      uint32
	size     uint64
	offset   uint64 // of its local header
	dosTime  uint16
	dosDate  uint16
	flags    uint16
	expected int64
}

// Writer writes an archive. Create starts a member; its data is whatever
// is written to the Writer until the next Create, CreateDir or Close.
type Writer struct {
	w       io.Writer
	off     uint64
	members []*member
	cur     *member
	crc     hash.Hash32
	closed  bool
}

// NewWriter returns a Writer writing the archive to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, crc: crc32.NewIEEE()}
}

// Create starts a file member named name (a "/"-separated relative path)
// that will hold size bytes, modified at mod. A size of 4 GiB or more
// makes it a ZIP64 member.
func (z *Writer) Create(name string, mod time.Time, size int64) error {
	return z.start(&member{name: name, zip64: size >= max32, expected: size}, mod)
}

// CreateDir adds a directory member; a "/" is appended to name when
// missing.
func (z *Writer) CreateDir(name string, mod time.Time) error {
	if !strings.HasSuffix(name, "/") {
		name += "/"
	}
	return z.start(&member{name: name, dir: true}, mod)
}

func (z *Writer) start(m *member, mod time.Time) error {
	if z.closed {
		return ErrClosed
	}
	if err := z.finish(); err != nil {
		return err
	}
	m.offset = z.off
	m.dosDate, m.dosTime = dosDateTime(mod)
	m.flags = flagUTF8
	if !m.dir {
		m.flags |= flagDescriptor
	}
	version := uint16(versionDefault)
	var extra []byte
	size32 := uint32(0)
	if m.zip64 {
		version, size32 = versionZip64, max32
		extra = zip64Extra(0, 0)
	}
	b := make([]byte, 0, localHeaderLen+len(m.name)+len(extra))
	b = binary.LittleEndian.AppendUint32(b, sigLocal)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, m.flags)
	b = binary.LittleEndian.AppendUint16(b, 0) // stored
	b = binary.LittleEndian.AppendUint16(b, m.dosTime)
	b = binary.LittleEndian.AppendUint16(b, m.dosDate)
	b = binary.LittleEndian.AppendUint32(b, 0) // CRC-32: in the descriptor
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.name)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(extra)))
	b = append(b, m.name...)
	b = append(b, extra...)
	if err := z.emit(b); err != nil {
		return err
	}
	z.members = append(z.members, m)
	if !m.dir {
		z.cur = m
		z.crc.Reset()
	}
	return nil
}

// Write writes data of the current file member.
func (z *Writer) Write(p []byte) (int, error) {
	if z.closed {
		return 0, ErrClosed
	}
	m := z.cur
	if m == nil {
		return 0, errors.New("zipstream: write outside a file member")
	}
	if !m.zip64 && m.size+uint64(len(p)) >= max32 {
		return 0, ErrTooLarge
	}
	n, err := z.w.Write(p)
	z.crc.Write(p[:n])
	m.size += uint64(n)
	z.off += uint64(n)
	return n, err
}

// finish ends the current file member with its data descriptor.
func (z *Writer) finish() error {
	m := z.cur
	if m == nil {
		return nil
	}
	z.cur = nil
	m.crc = z.crc.Sum32()
	b := binary.LittleEndian.AppendUint32(nil, sigDescriptor)
	b = binary.LittleEndian.AppendUint32(b, m.crc)
	if m.zip64 {
		b = binary.LittleEndian.AppendUint64(b, m.size)
		b = binary.LittleEndian.AppendUint64(b, m.size)
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(m.size))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.size))
	}
	return z.emit(b)
}

// Close ends the last member and writes the central directory. It does
// not close the underlying writer.
func (z *Writer) Close() error {
	if z.closed {
		return ErrClosed
	}
	if err := z.finish(); err != nil {
		return err
	}
	z.closed = true
	start := z.off
	for _, m := range z.members {
		if err := z.emit(central(m)); err != nil {
			return err
		}
	}
	return z.emit(end(len(z.members), start, z.off-start))
}

func (z *Writer) emit(b []byte) error {
	n, err := z.w.Write(b)
	z.off += uint64(n)
	return err
}

// central returns the central directory header of m.
func central(m *member) []byte {
	size32, off32 := uint32(m.size), uint32(m.offset)
	var fields []uint64 // the ZIP64 extra's values, in APPNOTE order
	if m.zip64 || m.size >= max32 {
		size32 = max32
		fields = append(fields, m.size, m.size)
	}
	if m.offset >= max32 {
		off32 = max32
		fields = append(fields, m.offset)
	}
	version := uint16(versionDefault)
	var extra []byte
	if len(fields) > 0 {
		version = versionZip64
		extra = zip64Extra(fields...)
	}
	attrs := uint32(0)
	if m.dir {
		attrs = attrDirectory
	}
	b := make([]byte, 0, centralHeaderLen+len(m.name)+len(extra))
	b = binary.LittleEndian.AppendUint32(b, sigCentral)
	b = binary.LittleEndian.AppendUint16(b, versionZip64) // made by: MS-DOS attributes, 4.5
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, m.flags)
	b = binary.LittleEndian.AppendUint16(b, 0) // stored
	b = binary.LittleEndian.AppendUint16(b, m.dosTime)
	b = binary.LittleEndian.AppendUint16(b, m.dosDate)
	b = binary.LittleEndian.AppendUint32(b, m.crc)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.name)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(extra)))
	b = binary.LittleEndian.AppendUint16(b, 0) // comment
	b = binary.LittleEndian.AppendUint16(b, 0) // disk
	b = binary.LittleEndian.AppendUint16(b, 0) // internal attributes
	b = binary.LittleEndian.AppendUint32(b, attrs)
	b = binary.LittleEndian.AppendUint32(b, off32)
	b = append(b, m.name...)
	return append(b, extra...)
}

// end returns the end of central directory record, preceded by the ZIP64
// end record and its locator when a count, size or offset needs them.
func end(count int, start, size uint64) []byte {
	var b []byte
	if count >= max16 || start >= max32 || size >= max32 {
		at := start + size
		b = binary.LittleEndian.AppendUint32(b, sigEnd64)
		b = binary.LittleEndian.AppendUint64(b, 44) // bytes after this field
		b = binary.LittleEndian.AppendUint16(b, versionZip64)
		b = binary.LittleEndian.AppendUint16(b, versionZip64)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint64(b, uint64(count))
		b = binary.LittleEndian.AppendUint64(b, uint64(count))
		b = binary.LittleEndian.AppendUint64(b, size)
		b = binary.LittleEndian.AppendUint64(b, start)
		b = binary.LittleEndian.AppendUint32(b, sigEnd64Locator)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint64(b, at)
		b = binary.LittleEndian.AppendUint32(b, 1)
	}
	b = binary.LittleEndian.AppendUint32(b, sigEnd)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(min(count, max16)))
	b = binary.LittleEndian.AppendUint16(b, uint16(min(count, max16)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(size, max32)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(start, max32)))
	return binary.LittleEndian.AppendUint16(b, 0) // comment
}

// zip64Extra returns a ZIP64 extended information extra field.
func zip64Extra(values ...uint64) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tagZip64)
	b = binary.LittleEndian.AppendUint16(b, uint16(8*len(values)))
	for _, v := range values {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// dosDateTime converts t (as UTC) to MS-DOS date and time; times before
// 1980 become 1980-01-01.
func dosDateTime(t time.Time) (date, tm uint16) {
	t = t.UTC()
	if t.Year() < 1980 {
		return 1<<5 | 1, 0
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, tm
}
