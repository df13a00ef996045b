package vhdx

import (
	"fmt"
	"hash/crc32"
	"io"

	"github.com/google/uuid"
)

const (
	logSector       = 4 * kib
	logHeaderSize   = 64
	descriptorSize  = 32
	dataSectorBytes = 4084
)

// Log is the metadata log region and the entries found in it.
type Log struct {
	Offset int64     `json:"offset"`
	Length uint32    `json:"length"`
	GUID   uuid.UUID `json:"guid"` // the current header's log GUID
	// Entries lists every entry found, valid or not, in log order.
	Entries []*LogEntry `json:"entries"`
	// Active lists the indexes in Entries of the active sequence, oldest
	// first: the chain of consecutive entries of the current log ending at
	// the head. It is empty when no such chain exists.
	Active []int `json:"active"`
	// ReplayFrom is the position in Active of the entry the head's tail
	// points at: replay applies Active[ReplayFrom:].
	ReplayFrom int `json:"replay_from"`
	// ReplayNeeded reports a non-zero log GUID in the current header.
	ReplayNeeded bool   `json:"replay_needed"`
	Problem      string `json:"problem,omitempty"`

	// unsafe holds the findings that make replaying the active sequence
	// unsafe (targets outside where a log may write); replay is skipped.
	unsafe []Finding
}

// LogEntry is one log entry (MS-VHDX 2.3.1).
type LogEntry struct {
	Offset            int64           `json:"offset"`     // file offset
	LogOffset         uint32          `json:"log_offset"` // offset inside the log
	Signature         string          `json:"signature"`
	Checksum          uint32          `json:"checksum"`
	ComputedChecksum  uint32          `json:"computed_checksum"`
	EntryLength       uint32          `json:"entry_length"`
	Tail              uint32          `json:"tail"`
	SequenceNumber    uint64          `json:"sequence_number,string"`
	DescriptorCount   uint32          `json:"descriptor_count"`
	LogGUID           uuid.UUID       `json:"log_guid"`
	FlushedFileOffset uint64          `json:"flushed_file_offset"`
	LastFileOffset    uint64          `json:"last_file_offset"`
	Descriptors       []LogDescriptor `json:"descriptors"`
	// Valid means signature, checksum, sizes, descriptors and data sectors
	// are consistent; Problem says why not. Active marks membership of the
	// active sequence and Replayed the entries replay applies; a valid
	// entry outside the active sequence is stale.
	Valid    bool   `json:"valid"`
	Problem  string `json:"problem,omitempty"`
	Active   bool   `json:"active"`
	Replayed bool   `json:"replayed"`
}

// LogDescriptor is a zero or data descriptor of a log entry.
type LogDescriptor struct {
	Offset         int64  `json:"offset"`    // file offset of the descriptor
	Signature      string `json:"signature"` // "zero" or "desc"
	TargetOffset   uint64 `json:"target_offset"`
	Length         uint64 `json:"length"` // ZeroLength, or 4096 for data
	SequenceNumber uint64 `json:"sequence_number,string"`
	LeadingBytes   uint64 `json:"leading_bytes,omitempty"`
	TrailingBytes  uint32 `json:"trailing_bytes,omitempty"`
	// DataOffset is the file offset of the data sector of a data descriptor.
	DataOffset int64 `json:"data_offset,omitempty"`
}

// Bounds on what one log may hold, so that a hostile log costs bounded
// memory: entry headers found by the scan, and descriptors decoded over all
// entries. A real log holds a few hundred entries and descriptors per MiB.
const (
	maxLogEntries     = 1 << 16
	maxLogDescriptors = 1 << 19
)

// logView reads a circular log region.
type logView struct {
	r      io.ReaderAt
	offset int64
	length uint32
}

// fileOffset maps an offset inside the log to a file offset.
func (v logView) fileOffset(pos uint64) int64 { return v.offset + int64(pos%uint64(v.length)) }

// readInto fills b from log position pos, wrapping at the end.
func (v logView) readInto(b []byte, pos uint32) error {
	n := uint32(len(b))
	first := min(n, v.length-pos)
	if err := readAt(v.r, b[:first], v.offset+int64(pos), "log"); err != nil {
		return err
	}
	if first < n {
		return readAt(v.r, b[first:], v.offset, "log")
	}
	return nil
}

// readLog scans the log region for entries and finds the active sequence.
// The work is linear in the log's length: the scan reads it once, and an
// entry is read further only when no other entry header lies inside it, so
// the entries read are disjoint.
func readLog(r io.ReaderAt, h *Header, fileSize int64) *Log {
	l := &Log{Offset: fileEnd(h.LogOffset, 0), Length: h.LogLength, GUID: h.LogGUID, ReplayNeeded: h.LogGUID != uuid.Nil}
	switch {
	case h.LogLength == 0:
		if l.ReplayNeeded {
			l.Problem = "log GUID is set but the log is empty"
		}
		return l
	case h.LogLength%mib != 0 || h.LogOffset%mib != 0:
		l.Problem = fmt.Sprintf("log offset %d or length %d is not a multiple of 1 MiB", h.LogOffset, h.LogLength)
		return l
	case h.LogOffset < headerAreaSize || h.LogOffset > uint64(fileSize) || uint64(h.LogLength) > uint64(fileSize)-h.LogOffset:
		l.Problem = fmt.Sprintf("log (offset %d, length %d) lies outside the %d-byte file", h.LogOffset, h.LogLength, fileSize)
		return l
	}
	v := logView{r: r, offset: l.Offset, length: l.Length}
	starts, err := scanLog(v)
	if err != nil {
		l.Problem = err.Error()
		return l
	}
	budget := maxLogDescriptors
	buf := make([]byte, logWindow)
	for i, pos := range starts {
		// The next header, circularly: a valid entry holds no other.
		next := uint64(l.Length) + uint64(starts[0])
		if i+1 < len(starts) {
			next = uint64(starts[i+1])
		}
		e := parseLogEntry(v, pos, uint32(next-uint64(pos)), &budget, buf)
		l.Entries = append(l.Entries, e)
		if budget < 0 {
			l.Problem = fmt.Sprintf("the log's entries hold more than %d descriptors, the most this reader examines", maxLogDescriptors)
			return l
		}
	}
	if l.ReplayNeeded {
		l.Active, l.ReplayFrom = activeSequence(l.Entries, l.Length, l.GUID)
	}
	for k, i := range l.Active {
		l.Entries[i].Active = true
		l.Entries[i].Replayed = k >= l.ReplayFrom
	}
	if l.ReplayNeeded && len(l.Active) == 0 {
		l.Problem = "log GUID is set but no valid active sequence was found"
	}
	l.unsafe = l.targetProblems(fileSize)
	return l
}

// logWindow is the unit in which the log is read.
const logWindow = 1 * mib

// scanLog returns the log offsets of the sectors that start with an entry
// signature, in order.
func scanLog(v logView) ([]uint32, error) {
	var starts []uint32
	buf := make([]byte, logWindow)
	for base := uint32(0); base < v.length; base += logWindow {
		b := buf[:min(logWindow, v.length-base)]
		if err := v.readInto(b, base); err != nil {
			return nil, err
		}
		for s := uint32(0); s < uint32(len(b)); s += logSector {
			if string(b[s:s+4]) != "loge" {
				continue
			}
			if len(starts) == maxLogEntries {
				return nil, fmt.Errorf("the log holds more than %d entry headers, the most this reader examines", maxLogEntries)
			}
			starts = append(starts, base+s)
		}
	}
	return starts, nil
}

// hasEntriesOf reports whether any valid entry belongs to the log guid.
func (l *Log) hasEntriesOf(guid uuid.UUID) bool {
	for _, e := range l.Entries {
		if e.Valid && e.LogGUID == guid {
			return true
		}
	}
	return false
}

// parseLogEntry decodes the entry at log position pos and validates it.
// room is the distance to the next entry header (circularly): a longer
// entry is invalid without reading it. The entry is streamed through buf,
// so its claimed length sizes no allocation; its descriptors are charged
// to budget, which goes negative when they exceed it.
func parseLogEntry(v logView, pos, room uint32, budget *int, buf []byte) *LogEntry {
	e := &LogEntry{Offset: v.fileOffset(uint64(pos)), LogOffset: pos}
	hdr := buf[:logSector]
	if err := v.readInto(hdr, pos); err != nil {
		e.Problem = err.Error()
		return e
	}
	e.Signature = string(hdr[:4])
	e.Checksum = le.Uint32(hdr[4:])
	e.EntryLength = le.Uint32(hdr[8:])
	e.Tail = le.Uint32(hdr[12:])
	e.SequenceNumber = le.Uint64(hdr[16:])
	e.DescriptorCount = le.Uint32(hdr[24:])
	e.LogGUID = guidAt(hdr[32:])
	e.FlushedFileOffset = le.Uint64(hdr[48:])
	e.LastFileOffset = le.Uint64(hdr[56:])
	descSectors := (uint64(logHeaderSize) + descriptorSize*uint64(e.DescriptorCount) + logSector - 1) / logSector
	switch {
	case e.EntryLength == 0 || e.EntryLength%logSector != 0 || e.EntryLength > v.length:
		e.Problem = fmt.Sprintf("entry length %d is not a non-zero multiple of 4 KiB within the %d-byte log", e.EntryLength, v.length)
		return e
	case e.EntryLength > room:
		e.Problem = fmt.Sprintf("entry length %d runs into the entry header at log offset %#x", e.EntryLength, (uint64(pos)+uint64(room))%uint64(v.length))
		return e
	case e.Tail%logSector != 0 || e.Tail >= v.length:
		e.Problem = fmt.Sprintf("tail %d is not a 4 KiB-aligned offset inside the log", e.Tail)
		return e
	case descSectors*logSector > uint64(e.EntryLength):
		e.Problem = fmt.Sprintf("%d descriptors do not fit in the %d-byte entry", e.DescriptorCount, e.EntryLength)
		return e
	}
	if *budget -= int(e.DescriptorCount); *budget < 0 {
		e.Problem = "not examined: the log holds too many descriptors"
		return e
	}
	p := entryParser{e: e, v: v, pos: pos, dataSector: uint32(descSectors) * logSector}
	crc := uint32(0)
	for at := uint32(0); at < e.EntryLength; at += uint32(len(buf)) {
		b := buf[:min(uint32(len(buf)), e.EntryLength-at)]
		if err := v.readInto(b, uint32((uint64(pos)+uint64(at))%uint64(v.length))); err != nil {
			e.Problem = err.Error()
			return e
		}
		if at == 0 {
			crc = crcWithHole(b, 4)
		} else {
			crc = crc32.Update(crc, castagnoli, b)
		}
		for s := uint32(0); s < uint32(len(b)); s += logSector {
			p.sector(at+s, b[s:s+logSector])
		}
	}
	e.ComputedChecksum = crc
	if e.Checksum != e.ComputedChecksum {
		p.problems = append([]string{fmt.Sprintf("checksum %#08x does not match computed %#08x", e.Checksum, e.ComputedChecksum)}, p.problems...)
	}
	if p.waiting < len(p.data) {
		i := p.data[p.waiting]
		p.problems = append(p.problems, fmt.Sprintf("data descriptor %d has no data sector inside the entry", i))
		for _, i := range p.data[p.waiting:] {
			e.Descriptors[i].DataOffset = 0
		}
	}
	if len(p.problems) > 0 {
		e.Problem = p.problems[0]
		if len(p.problems) > 1 {
			e.Problem += fmt.Sprintf(" (and %d more problems)", len(p.problems)-1)
		}
		return e
	}
	e.Valid = true
	return e
}

// entryParser decodes an entry's descriptors and data sectors as its
// sectors stream by.
type entryParser struct {
	e          *LogEntry
	v          logView
	pos        uint32 // the entry's log offset
	dataSector uint32 // entry offset of the first data sector
	data       []int  // indexes of the data descriptors, in order
	waiting    int    // position in data of the next data sector's descriptor
	problems   []string
}

// sector takes the entry's 4 KiB sector at entry offset at.
func (p *entryParser) sector(at uint32, s []byte) {
	e := p.e
	if at < p.dataSector {
		first := max(0, (int64(at)-logHeaderSize)/descriptorSize)
		for i := first; i < int64(e.DescriptorCount) && logHeaderSize+descriptorSize*i < int64(at)+logSector; i++ {
			p.descriptor(uint32(i), s[logHeaderSize+descriptorSize*i-int64(at):])
		}
		return
	}
	if p.waiting == len(p.data) {
		return // a sector no descriptor uses
	}
	i := p.data[p.waiting]
	p.waiting++
	d := &e.Descriptors[i]
	d.DataOffset = p.v.fileOffset(uint64(p.pos) + uint64(at))
	seq := uint64(le.Uint32(s[4:]))<<32 | uint64(le.Uint32(s[4092:]))
	if string(s[:4]) != "data" || seq != e.SequenceNumber {
		p.problems = append(p.problems, fmt.Sprintf("data sector %d: signature %q, sequence number %d (entry is %d)", i, s[:4], seq, e.SequenceNumber))
	}
}

// descriptor decodes descriptor i from d.
func (p *entryParser) descriptor(i uint32, d []byte) {
	e := p.e
	ld := LogDescriptor{Offset: p.v.fileOffset(uint64(p.pos) + logHeaderSize + descriptorSize*uint64(i)), Signature: string(d[:4]), TargetOffset: le.Uint64(d[16:]), SequenceNumber: le.Uint64(d[24:])}
	switch ld.Signature {
	case "zero":
		ld.Length = le.Uint64(d[8:])
		if ld.Length%logSector != 0 || ld.TargetOffset%logSector != 0 {
			p.problems = append(p.problems, fmt.Sprintf("zero descriptor %d: offset %d or length %d not 4 KiB aligned", i, ld.TargetOffset, ld.Length))
		}
	case "desc":
		ld.Length = logSector
		ld.TrailingBytes = le.Uint32(d[4:])
		ld.LeadingBytes = le.Uint64(d[8:])
		if ld.TargetOffset%logSector != 0 {
			p.problems = append(p.problems, fmt.Sprintf("data descriptor %d: target offset %d not 4 KiB aligned", i, ld.TargetOffset))
		}
		p.data = append(p.data, int(i))
	default:
		p.problems = append(p.problems, fmt.Sprintf("descriptor %d: signature %q is neither \"zero\" nor \"desc\"", i, ld.Signature))
	}
	if ld.SequenceNumber != e.SequenceNumber {
		p.problems = append(p.problems, fmt.Sprintf("descriptor %d: sequence number %d differs from the entry's %d", i, ld.SequenceNumber, e.SequenceNumber))
	}
	e.Descriptors = append(e.Descriptors, ld)
}

// activeSequence returns the indexes of the active sequence, oldest first,
// and the position in it where replay starts. Valid entries of the current
// log chain when each starts where the previous ends (circularly) with the
// next sequence number. A chain is a candidate when its head's tail points
// at one of its entries; the candidate with the highest head sequence
// number is active, and replay runs from that tail to the head.
func activeSequence(entries []*LogEntry, length uint32, guid uuid.UUID) ([]int, int) {
	at := map[uint32]int{}
	for i, e := range entries {
		if e.Valid && e.LogGUID == guid {
			at[e.LogOffset] = i
		}
	}
	next := make([]int, len(entries))
	hasPrev := make([]bool, len(entries))
	for i, e := range entries {
		next[i] = -1
		if _, ok := at[e.LogOffset]; !ok || entries[at[e.LogOffset]] != e {
			continue
		}
		if j, ok := at[uint32((uint64(e.LogOffset)+uint64(e.EntryLength))%uint64(length))]; ok && entries[j].SequenceNumber == e.SequenceNumber+1 {
			next[i] = j
			hasPrev[j] = true
		}
	}
	var best []int
	var bestSeq uint64
	bestFrom := 0
	for i, e := range entries {
		if j, ok := at[e.LogOffset]; !ok || j != i || hasPrev[i] {
			continue
		}
		chain := []int{i}
		for j := next[i]; j >= 0 && len(chain) <= len(entries); j = next[j] {
			chain = append(chain, j)
		}
		head := entries[chain[len(chain)-1]]
		for k, idx := range chain {
			if entries[idx].LogOffset == head.Tail {
				if best == nil || head.SequenceNumber > bestSeq {
					best, bestSeq, bestFrom = chain, head.SequenceNumber, k
				}
				break
			}
		}
	}
	return best, bestFrom
}
