package qcow2

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// writerStream writes the image sequentially through a buffer, remembering
// the first error.
type writerStream struct {
	bw    *bufio.Writer
	count writerCounter
	pos   int64 // bytes handed to the buffer
	err   error
}

// writerCounter counts the bytes that reach the destination and reports
// progress.
type writerCounter struct {
	w        io.Writer
	n, total int64
	progress func(done, total int64)
}

func (c *writerCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(c.n, c.total)
	}
	return n, err
}

func newWriterStream(w io.Writer, total int64, progress func(done, total int64)) *writerStream {
	s := &writerStream{count: writerCounter{w: w, total: total, progress: progress}}
	s.bw = bufio.NewWriterSize(&s.count, 1<<20)
	return s
}

func (s *writerStream) write(b []byte) {
	if s.err != nil {
		return
	}
	n, err := s.bw.Write(b)
	s.pos += int64(n)
	if err != nil {
		s.err = fmt.Errorf("qcow2: writing the image at %d: %w", s.count.n, err)
	}
}

// u64 writes a big-endian 64-bit value.
func (s *writerStream) u64(v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	s.write(b[:])
}

// writerZeros is a source of zeros for writerStream.zeros; never written.
var writerZeros [64 << 10]byte

// zeros writes n zero bytes (none when n <= 0).
func (s *writerStream) zeros(n int64) {
	for ; n > 0 && s.err == nil; n -= int64(len(writerZeros)) {
		s.write(writerZeros[:min(n, int64(len(writerZeros)))])
	}
}

// flush writes what the buffer holds.
func (s *writerStream) flush() error {
	if s.err == nil {
		if err := s.bw.Flush(); err != nil {
			s.err = fmt.Errorf("qcow2: writing the image at %d: %w", s.count.n, err)
		}
	}
	return s.err
}
