package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

func defineConvert(fs *flag.FlagSet) runner {
	c := &createFlags{}
	c.declare(fs, false)
	return func(_ io.Writer, args []string) error { return runConvert(c, args, false) }
}

func defineMerge(fs *flag.FlagSet) runner {
	c := &createFlags{}
	c.declare(fs, false)
	return func(_ io.Writer, args []string) error { return runConvert(c, args, true) }
}

// source is a virtual disk to copy, with the ranges that may hold data.
type source struct {
	io.ReaderAt
	size int64
	// data calls fn for ranges that may hold non-zero bytes, in order;
	// everything outside them reads as zeros.
	data func(fn func(off, n int64) error) error
	// geometry suggests defaults for a VHDX output.
	opt vhdx.CreateOptions
}

// runConvert copies IN to OUT. With mergeOnly, IN must be a VHDX (usually a
// differencing disk, read through its chain).
func runConvert(c *createFlags, args []string, mergeOnly bool) error {
	in, out := args[0], args[1]
	s := &session{}
	defer s.close()
	src, err := s.openSource(in, mergeOnly)
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return &exitError{2, fmt.Errorf("%s exists; not overwriting it", out)}
	}
	ext := strings.ToLower(filepath.Ext(out))
	if ext == ".vhdx" || ext == ".avhdx" {
		err = writeVHDX(c, src, out)
	} else {
		err = writeRaw(src, out)
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

// openSource opens name as a VHDX (through its chain) or, unless vhdxOnly,
// as a raw image.
func (s *session) openSource(name string, vhdxOnly bool) (*source, error) {
	f, size, err := s.openFile(name)
	if err != nil {
		return nil, &exitError{2, err}
	}
	var sig [8]byte
	f.ReadAt(sig[:], 0)
	if string(sig[:]) != "vhdxfile" {
		if vhdxOnly {
			return nil, &exitError{2, fmt.Errorf("%s: %w", name, vhdx.ErrNotVHDX)}
		}
		return &source{ReaderAt: f, size: size, data: func(fn func(off, n int64) error) error { return rawData(f, size, fn) }}, nil
	}
	img, err := s.openImage(name)
	if err != nil {
		return nil, err
	}
	disk, err := s.openDisk(img, name)
	if err != nil {
		return nil, err
	}
	m := img.Metadata
	return &source{
		ReaderAt: disk, size: disk.Size(),
		data: func(fn func(off, n int64) error) error {
			return disk.Extents(func(e vhdx.Extent) error {
				if e.State == vhdx.FullyPresent || e.State == vhdx.PartiallyPresent {
					return fn(e.Start, e.Length)
				}
				return nil
			})
		},
		opt: vhdx.CreateOptions{BlockSize: m.BlockSize, LogicalSectorSize: m.LogicalSectorSize, PhysicalSectorSize: m.PhysicalSectorSize},
	}, nil
}

// rawData finds the data ranges of a raw file with SEEK_DATA/SEEK_HOLE,
// or reports the whole file where the system cannot tell.
func rawData(f *os.File, size int64, fn func(off, n int64) error) error {
	const seekData, seekHole = 3, 4
	for off := int64(0); off < size; {
		start, err := f.Seek(off, seekData)
		if err != nil {
			if off == 0 && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "no such device or address") {
				return fn(0, size) // no hole support: treat it all as data
			}
			return nil // ENXIO: only a hole remains
		}
		end, err := f.Seek(start, seekHole)
		if err != nil || end > size {
			end = size
		}
		if err := fn(start, end-start); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// copyChunk is the unit in which data is read and zero runs are skipped.
const copyChunk = 1 << 20

// copyData calls write with the non-zero parts of src's data ranges, in
// runs of whole chunks up to maxRun bytes.
func copyData(src *source, maxRun int, write func(p []byte, off int64) error) error {
	buf := make([]byte, maxRun)
	run, runOff := buf[:0], int64(0)
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		err := write(run, runOff)
		run = buf[:0]
		return err
	}
	zero := make([]byte, copyChunk)
	return errors.Join(src.data(func(off, n int64) error {
		for pos := off / copyChunk * copyChunk; pos < off+n; pos += copyChunk {
			if len(run) > 0 && (runOff+int64(len(run)) != pos || len(run)+copyChunk > maxRun) {
				if err := flush(); err != nil {
					return err
				}
			}
			c := min(copyChunk, src.size-pos)
			chunk := buf[len(run) : len(run)+int(c)]
			if _, err := src.ReadAt(chunk, pos); err != nil && err != io.EOF {
				return err
			}
			if bytes.Equal(chunk, zero[:c]) {
				continue
			}
			if len(run) == 0 {
				runOff = pos
			}
			run = buf[:len(run)+int(c)]
		}
		return nil
	}), flush())
}

func writeRaw(src *source, out string) error {
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	err = copyData(src, 32<<20, func(p []byte, off int64) error {
		_, err := f.WriteAt(p, off)
		return err
	})
	if err == nil {
		err = f.Truncate(src.size)
	}
	if err == nil {
		err = f.Close()
	}
	return err
}

func writeVHDX(c *createFlags, src *source, out string) error {
	opt := c.options(0)
	if opt.BlockSize == 0 {
		opt.BlockSize = src.opt.BlockSize
	}
	if opt.LogicalSectorSize == 0 {
		opt.LogicalSectorSize = max(src.opt.LogicalSectorSize, 512)
	}
	if opt.PhysicalSectorSize == 0 {
		opt.PhysicalSectorSize = src.opt.PhysicalSectorSize
	}
	ss := int64(opt.LogicalSectorSize)
	opt.VirtualSize = uint64((src.size + ss - 1) / ss * ss) // a raw tail is padded to a whole sector
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := vhdx.Create(f, opt); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	w, err := vhdx.OpenWriter(f, st.Size())
	if err != nil {
		return err
	}
	err = copyData(src, 64<<20, func(p []byte, off int64) error {
		if tail := int64(len(p)) % ss; tail != 0 {
			p = append(p, make([]byte, ss-tail)...)
		}
		_, err := w.WriteAt(p, off)
		return err
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}
