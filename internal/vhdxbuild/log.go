package vhdxbuild

import (
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"
)

// Special values of LogEntry.Offset and LogEntry.Tail.
const (
	// LogNext places an entry directly after the previous one in
	// Image.LogEntries (wrapping around the end of the log), or at offset 0
	// for the first entry.
	LogNext = -1
	// LogAutoTail sets the tail to the start of the run of entries that
	// ends with this one: the previous entry's tail when the previous entry
	// has sequence number one lower and this entry directly follows it in
	// the log, otherwise this entry's own offset.
	LogAutoTail = -1
)

// LogWrite is a data write recorded in a log entry. Data is padded with
// zeros to a multiple of 4 KiB; each 4 KiB sector k becomes one data
// descriptor (target FileOffset + k*4096) and one data sector.
type LogWrite struct {
	FileOffset uint64 // should be 4 KiB aligned
	Data       []byte
}

// LogZero is a zero descriptor: Length bytes at FileOffset become zero.
type LogZero struct {
	FileOffset uint64 // should be 4 KiB aligned
	Length     uint64 // should be a multiple of 4 KiB
}

// LogEntry describes one log entry. Descriptors are written zero
// descriptors first (in order), then data descriptors (in order).
//
// The zero value is NOT "append": Offset 0 and Tail 0 are explicit values.
// Use NewLogEntry, or set Offset and Tail to LogNext / LogAutoTail.
type LogEntry struct {
	Sequence uint64
	// Tail is the offset inside the log of the first entry of the sequence
	// ending with this entry, or LogAutoTail.
	Tail int64
	// LogGuid of the entry; uuid.Nil means the LogGUID of the current
	// header (the one with the highest sequence number) at serialisation.
	LogGuid uuid.UUID
	// FlushedFileOffset and LastFileOffset; 0 means automatic: the
	// natural file size, and the larger of that and the end of the
	// furthest write or zero target, respectively.
	FlushedFileOffset, LastFileOffset uint64
	Writes                            []LogWrite
	Zeros                             []LogZero
	// Offset is the byte offset of the entry inside the log, or LogNext.
	Offset int64

	// BadChecksum stores a checksum that does not match.
	BadChecksum bool
	// WrittenSectors, when positive, writes only the first that many 4 KiB
	// sectors of the entry (a torn write); the rest of the log keeps
	// whatever was there (zeros or an older entry).
	WrittenSectors int
	// Edit, if set, is called on the fully encoded entry before the
	// checksum is computed, to forge any field (EntryLength, descriptor
	// signatures, data sector sequence numbers, ...) with a valid checksum.
	Edit func(entry []byte)
}

// NewLogEntry returns an entry with sequence number seq that is appended
// after the previous entry and gets an automatic tail.
func NewLogEntry(seq uint64) LogEntry {
	return LogEntry{Sequence: seq, Offset: LogNext, Tail: LogAutoTail}
}

// AddLogEntry appends e to LogEntries. If e has no LogGuid and neither
// header has one, both headers' LogGUID are set to DefaultLogGUID (so the
// log becomes active); e.LogGuid stays Nil and is resolved when the image
// is serialised.
func (im *Image) AddLogEntry(e LogEntry) {
	if e.LogGuid == uuid.Nil && im.Headers[0].LogGUID == uuid.Nil && im.Headers[1].LogGUID == uuid.Nil {
		im.Headers[0].LogGUID = DefaultLogGUID
		im.Headers[1].LogGUID = DefaultLogGUID
	}
	im.LogEntries = append(im.LogEntries, e)
}

// DataSectors returns the number of data descriptors (and data sectors).
func (e *LogEntry) DataSectors() int {
	n := 0
	for _, w := range e.Writes {
		n += int(ceilDiv(uint64(len(w.Data)), LogSectorSize))
	}
	return n
}

// Length returns EntryLength: header and descriptors rounded up to 4 KiB,
// plus 4 KiB per data sector.
func (e *LogEntry) Length() uint32 {
	nd := len(e.Zeros) + e.DataSectors()
	return uint32(alignUp(uint64(64+32*nd), LogSectorSize)) + uint32(e.DataSectors())*LogSectorSize
}

// Encode returns the complete entry (EntryLength bytes) with the given
// resolved tail, log GUID and file offsets. Edit and BadChecksum are
// applied; WrittenSectors is not (it only affects what is written).
func (e *LogEntry) Encode(tail uint32, logGUID uuid.UUID, flushed, last uint64) []byte {
	le := binary.LittleEndian
	nz, nd := len(e.Zeros), e.DataSectors()
	hdrLen := alignUp(uint64(64+32*(nz+nd)), LogSectorSize)
	b := make([]byte, e.Length())
	copy(b[0:4], "loge")
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[12:], tail)
	le.PutUint64(b[16:], e.Sequence)
	le.PutUint32(b[24:], uint32(nz+nd))
	PutGUID(b[32:48], logGUID)
	le.PutUint64(b[48:], flushed)
	le.PutUint64(b[56:], last)

	d := 64
	for _, z := range e.Zeros {
		copy(b[d:], "zero")
		le.PutUint64(b[d+8:], z.Length)
		le.PutUint64(b[d+16:], z.FileOffset)
		le.PutUint64(b[d+24:], e.Sequence)
		d += 32
	}
	ds := int(hdrLen)
	sector := make([]byte, LogSectorSize)
	for _, w := range e.Writes {
		for k := 0; k*LogSectorSize < len(w.Data); k++ {
			clear(sector)
			copy(sector, w.Data[k*LogSectorSize:])
			copy(b[d:], "desc")
			le.PutUint32(b[d+4:], le.Uint32(sector[4092:4096]))
			le.PutUint64(b[d+8:], le.Uint64(sector[0:8]))
			le.PutUint64(b[d+16:], w.FileOffset+uint64(k)*LogSectorSize)
			le.PutUint64(b[d+24:], e.Sequence)
			d += 32

			s := b[ds : ds+LogSectorSize]
			copy(s[0:4], "data")
			le.PutUint32(s[4:], uint32(e.Sequence>>32))
			copy(s[8:4092], sector[8:4092])
			le.PutUint32(s[4092:], uint32(e.Sequence))
			ds += LogSectorSize
		}
	}
	if e.Edit != nil {
		e.Edit(b)
	}
	le.PutUint32(b[4:8], 0)
	sum := Checksum(b)
	if e.BadChecksum {
		sum ^= 0xFFFFFFFF
	}
	le.PutUint32(b[4:8], sum)
	return b
}

// resolvedLogEntry is a log entry with its automatic fields filled in.
type resolvedLogEntry struct {
	offset, tail, length uint32
	guid                 uuid.UUID
	flushed, last        uint64
}

// resolveLog computes offsets, tails, GUIDs and file offsets of all log
// entries.
func (im *Image) resolveLog() ([]resolvedLogEntry, error) {
	if len(im.LogEntries) == 0 {
		return nil, nil
	}
	if im.LogLength == 0 {
		return nil, fmt.Errorf("vhdxbuild: log entries but LogLength is 0")
	}
	natural := im.naturalSize()
	cur := im.currentHeader()
	out := make([]resolvedLogEntry, len(im.LogEntries))
	var next uint32
	for i := range im.LogEntries {
		e := &im.LogEntries[i]
		r := &out[i]
		r.length = e.Length()
		if r.length > im.LogLength {
			return nil, fmt.Errorf("vhdxbuild: log entry %d is %d bytes, longer than the %d-byte log", i, r.length, im.LogLength)
		}
		if e.Offset < 0 {
			r.offset = next
		} else {
			r.offset = uint32(e.Offset)
		}
		next = uint32((uint64(r.offset) + uint64(r.length)) % uint64(im.LogLength))
		switch {
		case e.Tail >= 0:
			r.tail = uint32(e.Tail)
		case i > 0 && e.Sequence == im.LogEntries[i-1].Sequence+1 &&
			r.offset == uint32((uint64(out[i-1].offset)+uint64(out[i-1].length))%uint64(im.LogLength)):
			r.tail = out[i-1].tail
		default:
			r.tail = r.offset
		}
		r.guid = e.LogGuid
		if r.guid == uuid.Nil {
			r.guid = im.Headers[cur].LogGUID
		}
		r.flushed = e.FlushedFileOffset
		if r.flushed == 0 {
			r.flushed = natural
		}
		r.last = e.LastFileOffset
		if r.last == 0 {
			r.last = natural
			for _, w := range e.Writes {
				r.last = max(r.last, w.FileOffset+alignUp(uint64(len(w.Data)), LogSectorSize))
			}
			for _, z := range e.Zeros {
				r.last = max(r.last, z.FileOffset+z.Length)
			}
		}
	}
	return out, nil
}
