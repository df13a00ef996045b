package vhdx

import (
	"fmt"
	"io"

	"github.com/google/uuid"
)

// Fixed positions of the header section (MS-VHDX 2.1).
const (
	identifierOffset = 0
	header1Offset    = 64 * kib
	header2Offset    = 128 * kib
	region1Offset    = 192 * kib
	region2Offset    = 256 * kib
	headerSize       = 4 * kib
	regionTableSize  = 64 * kib
	headerAreaSize   = 1 * mib
)

// FileIdentifier is the file type identifier at offset 0.
type FileIdentifier struct {
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Signature string `json:"signature"` // "vhdxfile" in a valid file
	Creator   string `json:"creator"`   // the application that created the file
}

func readIdentifier(r io.ReaderAt) (*FileIdentifier, error) {
	b := make([]byte, 8+512)
	if err := readAt(r, b, identifierOffset, "file type identifier"); err != nil {
		return nil, err
	}
	id := &FileIdentifier{Offset: identifierOffset, Length: 64 * kib, Signature: string(b[:8]), Creator: utf16String(b[8:])}
	if id.Signature != "vhdxfile" {
		return id, formatErr(ErrNotVHDX, "file type identifier", 0, "signature is %q, want \"vhdxfile\"", b[:8])
	}
	return id, nil
}

// Header is one of the two copies of the VHDX header (MS-VHDX 2.2.2).
type Header struct {
	Offset           int64     `json:"offset"`
	Length           int64     `json:"length"`
	Signature        string    `json:"signature"`
	Checksum         uint32    `json:"checksum"`
	ComputedChecksum uint32    `json:"computed_checksum"`
	SequenceNumber   uint64    `json:"sequence_number"`
	FileWriteGUID    uuid.UUID `json:"file_write_guid"`
	DataWriteGUID    uuid.UUID `json:"data_write_guid"`
	LogGUID          uuid.UUID `json:"log_guid"`
	LogVersion       uint16    `json:"log_version"`
	Version          uint16    `json:"version"`
	LogLength        uint32    `json:"log_length"`
	LogOffset        uint64    `json:"log_offset"`
	// Valid reports whether the header can be used; Problem says why not.
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
}

func readHeader(r io.ReaderAt, off int64) (*Header, error) {
	b := make([]byte, headerSize)
	if err := readAt(r, b, off, "header"); err != nil {
		return &Header{Offset: off, Length: headerSize, Problem: err.Error()}, err
	}
	h := &Header{
		Offset:           off,
		Length:           headerSize,
		Signature:        string(b[0:4]),
		Checksum:         le.Uint32(b[4:]),
		ComputedChecksum: crcWithHole(b, 4),
		SequenceNumber:   le.Uint64(b[8:]),
		FileWriteGUID:    guidAt(b[16:]),
		DataWriteGUID:    guidAt(b[32:]),
		LogGUID:          guidAt(b[48:]),
		LogVersion:       le.Uint16(b[64:]),
		Version:          le.Uint16(b[66:]),
		LogLength:        le.Uint32(b[68:]),
		LogOffset:        le.Uint64(b[72:]),
	}
	switch {
	case h.Signature != "head":
		h.Problem = fmt.Sprintf("signature is %q, want \"head\"", h.Signature)
	case h.Checksum != h.ComputedChecksum:
		h.Problem = fmt.Sprintf("checksum %#08x does not match computed %#08x", h.Checksum, h.ComputedChecksum)
	case h.Version != 1:
		h.Problem = fmt.Sprintf("version %d, want 1", h.Version)
	default:
		h.Valid = true
	}
	return h, nil
}

// pickHeader chooses the current header: the valid one with the higher
// sequence number. It returns the index (0 or 1) and a reason for people.
func pickHeader(h [2]*Header) (int, string, error) {
	v0, v1 := h[0] != nil && h[0].Valid, h[1] != nil && h[1].Valid
	switch {
	case v0 && v1 && h[0].SequenceNumber == h[1].SequenceNumber:
		return 0, "both headers are valid with equal sequence numbers; header 1 is used", nil
	case v0 && v1 && h[0].SequenceNumber > h[1].SequenceNumber:
		return 0, "both headers are valid; header 1 has the higher sequence number", nil
	case v0 && v1:
		return 1, "both headers are valid; header 2 has the higher sequence number", nil
	case v0:
		return 0, "header 2 is invalid: " + problemOf(h[1]), nil
	case v1:
		return 1, "header 1 is invalid: " + problemOf(h[0]), nil
	}
	return -1, "", formatErr(ErrHeadersCorrupt, "headers", header1Offset, "header 1: %s; header 2: %s", problemOf(h[0]), problemOf(h[1]))
}

func problemOf(h *Header) string {
	if h == nil {
		return "missing"
	}
	return h.Problem
}
