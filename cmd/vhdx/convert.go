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

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

func defineConvert(fs *flag.FlagSet) runner { return defineCopy(fs, false) }

func defineMerge(fs *flag.FlagSet) runner { return defineCopy(fs, true) }

// defineCopy declares the flags of convert and merge.
func defineCopy(fs *flag.FlagSet, mergeOnly bool) runner {
	c, q, s := &createFlags{}, &qcow2Flags{}, &session{}
	c.declare(fs, false)
	q.declare(fs)
	s.flags(fs)
	return func(_ io.Writer, args []string) error { return runConvert(c, q, s, args, mergeOnly) }
}

// qcow2Flags are the options of a qcow2 output.
type qcow2Flags struct {
	clusterSize sizeFlag
	compress    string
}

func (q *qcow2Flags) declare(fs *flag.FlagSet) {
	fs.Var(&q.clusterSize, "cluster-size", "qcow2 output: cluster size, 512 to 2M, a power of two (default 64K)")
	fs.StringVar(&q.compress, "compress", "", "qcow2 output: compress clusters with `zlib or zstd` (in parallel)")
}

// options returns the flags as qcow2 write options.
func (q *qcow2Flags) options() (qcow2.WriteOptions, error) {
	opt := qcow2.WriteOptions{}
	if q.clusterSize > 2<<20 {
		return opt, &exitError{2, fmt.Errorf("--cluster-size %d is out of range (512 to 2M)", q.clusterSize)}
	}
	opt.ClusterSize = int(q.clusterSize)
	switch strings.ToLower(q.compress) {
	case "":
	case "zlib", "deflate":
		opt.Compress, opt.CompressionType = true, qcow2.CompressionDeflate
	case "zstd":
		opt.Compress, opt.CompressionType = true, qcow2.CompressionZstd
	default:
		return opt, &exitError{2, fmt.Errorf("--compress %q: use zlib or zstd", q.compress)}
	}
	return opt, nil
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
func runConvert(c *createFlags, q *qcow2Flags, s *session, args []string, mergeOnly bool) error {
	in, out := args[0], args[1]
	defer s.close()
	opt, err := c.options(0)
	if err != nil {
		return err
	}
	qopt, err := q.options()
	if err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(out))
	if ext != ".qcow2" && (qopt.Compress || qopt.ClusterSize != 0) {
		return &exitError{2, fmt.Errorf("--compress and --cluster-size are for a qcow2 output (%s does not end in .qcow2)", out)}
	}
	src, geometry, err := s.openSource(in, mergeOnly)
	if err != nil {
		return err
	}
	o, err := createOutput(out, c.force, s.files)
	if err != nil {
		return err
	}
	switch ext {
	case ".vhdx", ".avhdx":
		err = writeVHDX(opt, geometry, src, o.tmp)
	case ".qcow2":
		err = writeQCOW2(qopt, src, o.tmp)
	default:
		err = writeRaw(src, o.tmp)
	}
	if err != nil {
		err = fmt.Errorf("%s to %s: %w", in, out, err)
	}
	return o.finish(err)
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

// writeRaw writes src to f, a new file, sparse: only non-zero chunks are
// written, holes stay holes.
func writeRaw(src vhdx.Source, f *os.File) error {
	err := copyData(src, 32<<20, func(p []byte, off int64) error {
		_, err := f.WriteAt(p, off)
		return err
	})
	if err != nil {
		return err
	}
	return f.Truncate(src.Size())
}

// writeQCOW2 streams src into a new qcow2 file.
func writeQCOW2(opt qcow2.WriteOptions, src vhdx.Source, f *os.File) error {
	w := bufio.NewWriterSize(f, 4<<20)
	if _, err := qcow2.WriteImage(w, src, opt, nil); err != nil {
		return err
	}
	return w.Flush()
}

// writeVHDX streams src into f, a new file: flags first, then the
// source's geometry, then the defaults.
func writeVHDX(opt, geometry vhdx.CreateOptions, src vhdx.Source, f *os.File) error {
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
	w := bufio.NewWriterSize(f, 4<<20)
	if _, err := vhdx.WriteImage(w, src, opt, nil); err != nil {
		return err
	}
	return w.Flush()
}
