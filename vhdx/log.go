package vhdx

import (
	"fmt"
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

// logView reads a circular log region.
type logView struct {
	r      io.ReaderAt
	offset int64
	length uint32
}

// fileOffset maps an offset inside the log to a file offset.
func (v logView) fileOffset(pos uint64) int64 { return v.offset + int64(pos%uint64(v.length)) }

// read reads n bytes from log position pos, wrapping at the end.
func (v logView) read(pos uint32, n uint32) ([]byte, error) {
	b := make([]byte, n)
	first := min(n, v.length-pos)
	if err := readAt(v.r, b[:first], v.offset+int64(pos), "log"); err != nil {
		return nil, err
	}
	if first < n {
		if err := readAt(v.r, b[first:], v.offset, "log"); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readLog scans the log region for entries and finds the active sequence.
func readLog(r io.ReaderAt, h *Header, fileSize int64) *Log {
	l := &Log{Offset: int64(h.LogOffset), Length: h.LogLength, GUID: h.LogGUID, ReplayNeeded: h.LogGUID != uuid.Nil}
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
	const window = 1 * mib
	for base := uint32(0); base < l.Length; base += window {
		buf, err := v.read(base, min(window, l.Length-base))
		if err != nil {
			l.Problem = err.Error()
			return l
		}
		for s := uint32(0); s < uint32(len(buf)); s += logSector {
			if string(buf[s:s+4]) == "loge" {
				l.Entries = append(l.Entries, parseLogEntry(v, base+s))
			}
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
	return l
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
func parseLogEntry(v logView, pos uint32) *LogEntry {
	e := &LogEntry{Offset: v.fileOffset(uint64(pos)), LogOffset: pos}
	hdr, err := v.read(pos, logSector)
	if err != nil {
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
	case e.Tail%logSector != 0 || e.Tail >= v.length:
		e.Problem = fmt.Sprintf("tail %d is not a 4 KiB-aligned offset inside the log", e.Tail)
		return e
	case descSectors*logSector > uint64(e.EntryLength):
		e.Problem = fmt.Sprintf("%d descriptors do not fit in the %d-byte entry", e.DescriptorCount, e.EntryLength)
		return e
	}
	body, err := v.read(pos, e.EntryLength)
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	e.ComputedChecksum = crcWithHole(body, 4)
	var problems []string
	if e.Checksum != e.ComputedChecksum {
		problems = append(problems, fmt.Sprintf("checksum %#08x does not match computed %#08x", e.Checksum, e.ComputedChecksum))
	}
	dataSector := uint32(descSectors) * logSector
	for i := uint32(0); i < e.DescriptorCount; i++ {
		at := logHeaderSize + descriptorSize*i
		d := body[at:]
		ld := LogDescriptor{Offset: v.fileOffset(uint64(pos) + uint64(at)), Signature: string(d[:4]), TargetOffset: le.Uint64(d[16:]), SequenceNumber: le.Uint64(d[24:])}
		switch ld.Signature {
		case "zero":
			ld.Length = le.Uint64(d[8:])
			if ld.Length%logSector != 0 || ld.TargetOffset%logSector != 0 {
				problems = append(problems, fmt.Sprintf("zero descriptor %d: offset %d or length %d not 4 KiB aligned", i, ld.TargetOffset, ld.Length))
			}
		case "desc":
			ld.Length = logSector
			ld.TrailingBytes = le.Uint32(d[4:])
			ld.LeadingBytes = le.Uint64(d[8:])
			if ld.TargetOffset%logSector != 0 {
				problems = append(problems, fmt.Sprintf("data descriptor %d: target offset %d not 4 KiB aligned", i, ld.TargetOffset))
			}
			if dataSector+logSector > e.EntryLength {
				problems = append(problems, fmt.Sprintf("data descriptor %d has no data sector inside the entry", i))
				break
			}
			ld.DataOffset = v.fileOffset(uint64(pos) + uint64(dataSector))
			s := body[dataSector:]
			seq := uint64(le.Uint32(s[4:]))<<32 | uint64(le.Uint32(s[4092:]))
			if string(s[:4]) != "data" || seq != e.SequenceNumber {
				problems = append(problems, fmt.Sprintf("data sector %d: signature %q, sequence number %d (entry is %d)", i, s[:4], seq, e.SequenceNumber))
			}
			dataSector += logSector
		default:
			problems = append(problems, fmt.Sprintf("descriptor %d: signature %q is neither \"zero\" nor \"desc\"", i, ld.Signature))
		}
		if ld.SequenceNumber != e.SequenceNumber {
			problems = append(problems, fmt.Sprintf("descriptor %d: sequence number %d differs from the entry's %d", i, ld.SequenceNumber, e.SequenceNumber))
		}
		e.Descriptors = append(e.Descriptors, ld)
	}
	if len(problems) > 0 {
		e.Problem = problems[0]
		if len(problems) > 1 {
			e.Problem += fmt.Sprintf(" (and %d more problems)", len(problems)-1)
		}
		return e
	}
	e.Valid = true
	return e
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
