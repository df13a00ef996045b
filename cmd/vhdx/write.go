package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// stdin is where write reads its data; tests may replace it.
var stdin io.Reader = os.Stdin

func defineWrite(*flag.FlagSet) runner { return runWrite }

// runWrite copies standard input into the virtual disk at OFFSET. Writes
// go to the image in whole logical sectors: a partial first or last sector
// is completed with the disk's current content (through the parent chain
// for a differencing disk).
func runWrite(_ io.Writer, args []string) error {
	name := args[0]
	off, err := parseSize(args[1])
	if err != nil {
		return &exitError{2, err}
	}
	if off > math.MaxInt64 {
		return &exitError{2, fmt.Errorf("offset %d is beyond any disk", off)}
	}
	s := &session{}
	defer s.close()
	f, fileSize, err := openLocked(name, true)
	if err != nil {
		return &exitError{2, err}
	}
	defer f.Close()
	if in, ok := stdin.(*os.File); ok {
		// Reading the image into itself would read what it writes, forever.
		if st, err := in.Stat(); err == nil {
			if _, same := sameAsAny(st, []*os.File{f}); same {
				return &exitError{2, fmt.Errorf("standard input is %s itself; not writing", name)}
			}
		}
	}
	w, err := vhdx.OpenWriter(f, fileSize)
	if err != nil {
		return &exitError{2, fmt.Errorf("%s: %w", name, err)}
	}
	size := int64(w.Image().Metadata.VirtualSize)
	if n, ok := inputLength(stdin); ok && (int64(off) > size || n > size-int64(off)) {
		w.Close()
		return fmt.Errorf("%d bytes at offset %d do not fit the %d-byte virtual disk; nothing was written", n, off, size)
	}
	werr := copyIn(w, s, name, int64(off), stdin)
	if err := w.Close(); werr == nil {
		werr = err
	}
	return werr
}

// inputLength returns how many bytes r has left when it is a regular file.
func inputLength(r io.Reader) (int64, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false
	}
	return st.Size() - pos, true
}

// copyIn streams r into w's virtual disk at off. Data from a pipe that runs
// past the end of the disk fails there, after what fitted was written.
func copyIn(w *vhdx.Writer, s *session, name string, off int64, r io.Reader) error {
	img := w.Image()
	ss := int64(img.Metadata.LogicalSectorSize)
	size := int64(img.Metadata.VirtualSize)
	// current reads the disk as it stands, to complete partial sectors.
	current := func(p []byte, at int64) error {
		disk, err := s.openVHDXChain(w.Image(), name)
		if err != nil {
			return err
		}
		_, err = disk.ReadAt(p, at)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	}
	start := off / ss * ss
	buf := make([]byte, off-start, 4<<20)
	if err := current(buf, start); err != nil && len(buf) > 0 {
		return err
	}
	for eof := false; !eof; {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
		case err != nil:
			return err
		}
		whole := int64(len(buf)) / ss * ss
		if eof && whole < int64(len(buf)) {
			// Complete the last partial sector from the disk.
			tail := make([]byte, ss)
			if err := current(tail, start+whole); err != nil {
				return err
			}
			buf = append(buf, tail[int64(len(buf))-whole:]...)
			whole += ss
		}
		if start+whole > size {
			return fmt.Errorf("the data runs past the end of the %d-byte virtual disk (the first %d bytes were written)", size, max(0, start-off))
		}
		if _, err := w.WriteAt(buf[:whole], start); err != nil {
			return err
		}
		start += whole
		buf = append(buf[:0], buf[whole:]...)
	}
	return nil
}
