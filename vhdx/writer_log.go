package vhdx

import (
	"fmt"
	"sort"

	"github.com/google/uuid"
)

// logWriter appends entries to the metadata log (MS-VHDX 2.3).
//
// Every entry describes whole 4 KiB sectors of the file (data descriptors
// only). The caller applies an entry's sectors in place and flushes before
// it writes the next entry (and says so with applied), so the oldest entry
// still needed is always the newest one: each entry's Tail names itself,
// and every older entry of the log may be overwritten.
//
// Layout. Entries are written back to back from the start of the log with
// consecutive sequence numbers. An entry never straddles the end of the
// log: when one would not fit, with the two sectors that follow it, before
// the end, writing starts again at offset 0 (the log wraps), overwriting
// entries that are already applied. Each entry is written together with
// two zeroed sectors after it. Both rules keep older entries of the same
// log from chaining onto the newest ones, which matters to readers that
// replay whole runs of valid entries found by scanning rather than the run
// the Tail names. QEMU 7.2 is one: it accepts any valid entry as the second
// of a run, loops forever when a run it scans ends one sector before where
// it started, and reports an empty log when a run covers the whole log. The
// layout gives it, at any crash point, exactly one run ending with the
// newest entry, starting at the pass's first entry, preceded and followed
// by at least two sectors that hold no valid entry of the log.
type logWriter struct {
	f       File
	offset  int64  // file offset of the log region
	length  uint32 // length of the log region
	guid    uuid.UUID
	head    uint32 // log offset the next entry starts at
	seq     uint64 // sequence number of the next entry
	pending bool   // an entry is written but not yet applied
	written uint64 // bytes of entries written, for tests and statistics
	wraps   int    // times writing restarted at the start of the log
}

// logGuard is the zeroed space written after every entry.
const logGuard = 2 * logSector

// logChange is one 4 KiB sector of the file and its new content.
type logChange struct {
	offset int64 // file offset, 4 KiB aligned
	data   []byte
}

func newLogWriter(f File, offset int64, length uint32, guid uuid.UUID) *logWriter {
	return &logWriter{f: f, offset: offset, length: length, guid: guid, seq: 1}
}

// entrySize is the length of an entry holding n data descriptors: a header
// sector group (64-byte header plus 32 bytes per descriptor, rounded up to
// 4 KiB) followed by one data sector per descriptor.
func entrySize(n int) uint32 {
	desc := (logHeaderSize + descriptorSize*uint32(n) + logSector - 1) / logSector
	return (desc + uint32(n)) * logSector
}

// maxChanges is the most sectors one entry may carry: the entry and its
// guard must fit in the log.
func (l *logWriter) maxChanges() int {
	n := 0
	for entrySize(n+1)+logGuard <= l.length {
		n++
	}
	return n
}

// write appends one entry carrying changes (each one aligned 4 KiB sector)
// without syncing. flushed is the file size known to be stable; last is the
// file size the entry's changes need. It returns the entry's log offset.
func (l *logWriter) write(changes []logChange, flushed, last uint64) (uint32, error) {
	if l.pending {
		return 0, fmt.Errorf("vhdx: log entry written before the previous one was applied")
	}
	if len(changes) == 0 || len(changes) > l.maxChanges() {
		return 0, fmt.Errorf("vhdx: log entry with %d sectors does not fit the %d-byte log (at most %d): %w", len(changes), l.length, l.maxChanges(), ErrUnsupported)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].offset < changes[j].offset })
	size := entrySize(len(changes))
	if l.head+size+logGuard > l.length {
		l.head = 0
		l.wraps++
	}
	pos, seq := l.head, l.seq
	b := make([]byte, size+logGuard)
	copy(b, "loge")
	le.PutUint32(b[8:], size)
	le.PutUint32(b[12:], pos) // tail: this entry is the oldest still needed
	le.PutUint64(b[16:], seq)
	le.PutUint32(b[24:], uint32(len(changes)))
	putGUID(b[32:], l.guid)
	le.PutUint64(b[48:], flushed)
	le.PutUint64(b[56:], last)
	data := size - uint32(len(changes))*logSector
	for i, c := range changes {
		if len(c.data) != logSector || c.offset%logSector != 0 {
			return 0, fmt.Errorf("vhdx: log change at %#x is not one aligned 4 KiB sector", c.offset)
		}
		d := b[logHeaderSize+descriptorSize*i:]
		copy(d, "desc")
		le.PutUint32(d[4:], le.Uint32(c.data[logSector-4:])) // trailing bytes
		le.PutUint64(d[8:], le.Uint64(c.data))               // leading bytes
		le.PutUint64(d[16:], uint64(c.offset))
		le.PutUint64(d[24:], seq)
		s := b[data+uint32(i)*logSector:]
		copy(s, "data")
		le.PutUint32(s[4:], uint32(seq>>32))
		copy(s[8:8+dataSectorBytes], c.data[8:logSector-4])
		le.PutUint32(s[4092:], uint32(seq))
	}
	le.PutUint32(b[4:], crcWithHole(b[:size], 4))
	if _, err := l.f.WriteAt(b, l.offset+int64(pos)); err != nil {
		return 0, err
	}
	l.head = pos + size
	l.seq++
	l.pending = true
	l.written += uint64(size)
	return pos, nil
}

// applied records that the entries written so far are durable in place.
func (l *logWriter) applied() { l.pending = false }
