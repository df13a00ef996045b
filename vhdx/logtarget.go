package vhdx

import "fmt"

// targetProblems checks where the replayed entries of the active sequence
// write: never into the header section, never into the log itself, and
// never beyond both the file's end and the entry's LastFileOffset (the size
// the writer said the file has, at most maxFileSize). Each problem is a
// finding; replay is skipped when there is any.
func (l *Log) targetProblems(fileSize int64) []Finding {
	if len(l.Active) == 0 {
		return nil
	}
	var out []Finding
	logEnd := uint64(l.Offset) + uint64(l.Length)
	for _, idx := range l.Active[l.ReplayFrom:] {
		e := l.Entries[idx]
		limit := max(uint64(fileSize), min(e.LastFileOffset, maxFileSize))
		structure := fmt.Sprintf("log entry seq %d", e.SequenceNumber)
		for i, d := range e.Descriptors {
			add := func(code, format string, args ...any) {
				out = append(out, Finding{Code: code, Severity: SeverityError, Structure: structure, Offset: d.Offset,
					Message: fmt.Sprintf("descriptor %d (%s): ", i, d.Signature) + fmt.Sprintf(format, args...)})
			}
			end, ok := spanEnd(d.TargetOffset, d.Length)
			switch {
			case !ok || end > limit:
				add("log.target_beyond_eof", "writes [%#x, +%#x), beyond the %d-byte file and its LastFileOffset %#x", d.TargetOffset, d.Length, fileSize, e.LastFileOffset)
			case d.TargetOffset < headerAreaSize:
				add("log.target_header", "writes [%#x, %#x), inside the 1 MiB header section", d.TargetOffset, end)
			case d.TargetOffset < logEnd && uint64(l.Offset) < end:
				add("log.target_log", "writes [%#x, %#x), over the log itself", d.TargetOffset, end)
			}
		}
	}
	return out
}
