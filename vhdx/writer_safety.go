package vhdx

import (
	"errors"
	"fmt"
)

// ErrUnsafeToWrite means the image has a problem that writing to it could
// make worse; a *RefusalError names it.
var ErrUnsafeToWrite = errors.New("the image is not safe to write")

// A RefusalError is returned by OpenWriter for an image that fails a check
// that matters for writing: structures that overlap (blocks, sector
// bitmaps, BAT, metadata, log, header section), BAT entries beyond the
// file's end or in invalid states, a log that cannot be replayed safely.
// Nothing has been written. It wraps ErrUnsafeToWrite.
type RefusalError struct {
	Finding Finding // the first finding that stops the write
	More    int     // how many other such findings there are
}

func (e *RefusalError) Error() string {
	f := e.Finding
	where := f.Structure
	if f.Offset >= 0 {
		where = fmt.Sprintf("%s at offset %#x", f.Structure, f.Offset)
	}
	more := ""
	if e.More > 0 {
		more = fmt.Sprintf(" (and %d more problems)", e.More)
	}
	return fmt.Sprintf("vhdx: refusing to write: %s: %s: %s%s (%v)", f.Code, where, f.Message, more, ErrUnsafeToWrite)
}

// Unwrap returns ErrUnsafeToWrite.
func (e *RefusalError) Unwrap() error { return ErrUnsafeToWrite }

// writeBlockers are the finding codes that stop a write when their
// severity is error: a write through such an image could land on another
// structure or another block, or lose the log.
var writeBlockers = map[string]bool{
	"bat.offset_invalid":                 true,
	"bat.beyond_eof":                     true,
	"bat.overlap_structure":              true,
	"bat.overlap_block":                  true,
	"bat.invalid_state":                  true,
	"bat.sector_bitmap_state":            true,
	"bat.sector_bitmap_missing":          true,
	"bat.sector_bitmap_not_differencing": true,
	"bat.partial_not_differencing":       true,
	"bat.unreadable":                     true,
	"header.log_bounds":                  true,
	"region.overlap":                     true,
	"region.beyond_eof":                  true,
	"region.duplicate":                   true,
	"region.copies_differ":               true,
	"metadata.overlap":                   true,
	"log.unusable":                       true,
	"log.flushed_beyond_eof":             true,
	"log.target_header":                  true,
	"log.target_log":                     true,
	"log.target_beyond_eof":              true,
	"log.replay_refused":                 true,
}

// writeRefusal checks img and returns a *RefusalError for the first finding
// that stops a write, or nil.
func writeRefusal(img *Image) error {
	var stop []Finding
	for _, f := range img.Check() {
		if f.Severity == SeverityError && writeBlockers[f.Code] {
			stop = append(stop, f)
		}
	}
	if len(stop) == 0 {
		return nil
	}
	return &RefusalError{Finding: stop[0], More: len(stop) - 1}
}
