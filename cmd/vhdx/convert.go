package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

func defineConvert(fs *flag.FlagSet) runner {
	c, s := &createFlags{}, &session{}
	c.declare(fs, false)
	s.flags(fs)
	return func(_ io.Writer, args []string) error { return runConvert(c, s, args, false) }
}

func defineMerge(fs *flag.FlagSet) runner {
	c, s := &createFlags{}, &session{}
	c.declare(fs, false)
	s.flags(fs)
	return func(_ io.Writer, args []string) error { return runConvert(c, s, args, true) }
}

// rawSource is a raw disk image file as a vhdx.Source, padded with zeros
// to size (a whole number of sectors).
type rawSource struct {
	f        *os.File
	fileSize int64
	size     int64
}

func (r rawSource) Size() int64 { return r.size }

func (r rawSource) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p[:max(0, min(int64(len(p)), r.fileSize-off))], off)
	if err != nil && err != io.EOF {
		return n, err
	}
	clear(p[n:])
	if off+int64(len(p)) > r.size {
		return int(max(0, r.size-off)), io.EOF
	}
	return len(p), nil
}

// DataRanges finds the data of a sparse file with SEEK_DATA/SEEK_HOLE, or
// reports the whole file where the system cannot tell.
func (r rawSource) DataRanges(fn func(off, n int64) error) error {
	const seekData, seekHole = 3, 4
	for off := int64(0); off < r.fileSize; {
		start, err := r.f.Seek(off, seekData)
		if err != nil {
			if off == 0 && !errors.Is(err, syscall.ENXIO) {
				return fn(0, r.fileSize) // no hole support: all of it may be data
			}
			return nil // ENXIO: only a hole remains
		}
		end, err := r.f.Seek(start, seekHole)
		if err != nil || end > r.fileSize {
			end = r.fileSize
		}
		if err := fn(start, end-start); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// runConvert copies IN to OUT. With mergeOnly, IN must be an image (usually
// a differencing disk, read through its chain), not raw.
func runConvert(c *createFlags, s *session, args []string, mergeOnly bool) error {
	in, out := args[0], args[1]
	defer s.close()
	src, geometry, err := s.openSource(in, mergeOnly)
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return &exitError{2, fmt.Errorf("%s exists; not overwriting it", out)}
	}
	ext := strings.ToLower(filepath.Ext(out))
	if ext == ".vhdx" || ext == ".avhdx" {
		err = writeVHDX(c.options(0), geometry, src, out)
	} else {
		err = writeRaw(src, out)
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

// openSource opens name as an image of any format, read through its
// chain; a file in no format this tool knows is read as raw, unless
// imagesOnly. For a VHDX it also returns its geometry, the defaults for a
// VHDX output.
func (s *session) openSource(name string, imagesOnly bool) (vhdx.Source, vhdx.CreateOptions, error) {
	var geometry vhdx.CreateOptions
	f, size, err := s.openFile(name)
	if err != nil {
		return nil, geometry, &exitError{2, err}
	}
	format := s.format
	if format == "" {
		format, err = vdisk.Identify(f, size, name)
		var ue *vdisk.UnsupportedError
		if errors.As(err, &ue) && ue.What == "" {
			format, err = vdisk.Raw, nil
		}
		if err != nil {
			return nil, geometry, &exitError{2, err}
		}
	}
	if format == vdisk.Raw {
		if imagesOnly {
			return nil, geometry, &exitError{2, fmt.Errorf("%s is a raw image: it has no chain to merge", name)}
		}
		return rawSource{f: f, fileSize: size, size: (size + 511) / 512 * 512}, geometry, nil
	}
	img, err := vdisk.Open(f, size, name, vdisk.Options{Format: format})
	if err != nil {
		return nil, geometry, &exitError{2, err}
	}
	disk, err := s.openDisk(img)
	if err != nil {
		return nil, geometry, err
	}
	if v, ok := img.Native().(*vhdx.Image); ok {
		m := v.Metadata
		geometry = vhdx.CreateOptions{BlockSize: m.BlockSize, LogicalSectorSize: m.LogicalSectorSize, PhysicalSectorSize: m.PhysicalSectorSize}
	}
	return disk, geometry, nil
}

// copyChunk is the unit in which data is read and zero runs are skipped.
const copyChunk = 1 << 20

// copyData calls write with the non-zero parts of src's data ranges, in
// runs of whole chunks up to maxRun bytes.
func copyData(src vhdx.Source, maxRun int, write func(p []byte, off int64) error) error {
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
	next := int64(0) // chunks below next were read already (ranges come in order)
	return errors.Join(src.DataRanges(func(off, n int64) error {
		for pos := max(off/copyChunk*copyChunk, next); pos < off+n; pos += copyChunk {
			next = pos + copyChunk
			if len(run) > 0 && (runOff+int64(len(run)) != pos || len(run)+copyChunk > maxRun) {
				if err := flush(); err != nil {
					return err
				}
			}
			c := min(copyChunk, src.Size()-pos)
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

// writeRaw writes src to a new sparse raw file: only non-zero chunks are
// written, holes stay holes.
func writeRaw(src vhdx.Source, out string) error {
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
		err = f.Truncate(src.Size())
	}
	if err == nil {
		err = f.Close()
	}
	return err
}

// writeVHDX streams src into a new VHDX file: flags first, then the
// source's geometry, then the defaults.
func writeVHDX(opt, geometry vhdx.CreateOptions, src vhdx.Source, out string) error {
	if opt.BlockSize == 0 {
		opt.BlockSize = geometry.BlockSize
	}
	if opt.LogicalSectorSize == 0 {
		opt.LogicalSectorSize = geometry.LogicalSectorSize
	}
	if opt.PhysicalSectorSize == 0 {
		opt.PhysicalSectorSize = geometry.PhysicalSectorSize
	}
	if r, ok := src.(rawSource); ok && opt.LogicalSectorSize != 0 {
		ss := int64(opt.LogicalSectorSize) // a raw tail is padded to a whole sector
		r.size = (r.fileSize + ss - 1) / ss * ss
		src = r
	}
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 4<<20)
	if _, err := vhdx.WriteImage(w, src, opt, nil); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
