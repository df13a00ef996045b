package qcow2

import (
	"errors"
	"io"
	"runtime"
)

// Source is a virtual disk to write as a new image: its bytes, its size and
// the ranges that may hold data (everything else reads as zeros). It is the
// same interface as vhdx.Source, so a VHDX disk or chain is a Source.
type Source interface {
	io.ReaderAt
	Size() int64
	DataRanges(fn func(off, n int64) error) error
}

// WriteOptions are the choices WriteImage leaves to the caller.
type WriteOptions struct {
	// ClusterSize is the cluster size in bytes: a power of two from 512 B
	// to 2 MiB; 0 means 64 KiB, QEMU's default.
	ClusterSize int
	// Compress stores data clusters compressed, each on its own; a
	// cluster whose compressed form is not smaller is stored as it is.
	Compress bool
	// CompressionType is the header's compression_type, used when Compress
	// is set: CompressionDeflate (raw deflate, "zlib" in qemu-img, which
	// every reader knows) or CompressionZstd (read by QEMU 5.1 and later;
	// it sets the incompatible feature bit 3).
	CompressionType uint8
}

// ErrInvalidWriteOptions is returned (wrapped) by WriteImage when the
// options are not valid, or cannot describe the source (a disk too large
// for the cluster size).
var ErrInvalidWriteOptions = errors.New("qcow2: invalid write options")

// WriteImage writes src to w as a new standalone qcow2 version 3 image
// (compat 1.1), in one sequential stream that never seeks or reads back (a
// download, a pipe). Clusters that read as zeros stay unallocated. With
// compression, clusters are compressed in parallel (GOMAXPROCS workers) and
// stored in guest order. The virtual size is src's size rounded up to a
// whole 512-byte sector, as QEMU counts it.
//
// The header comes first and points to every table, so every table's
// place and every data cluster's place must be known before the first byte
// is written; with compression that means knowing each cluster's
// compressed size. WriteImage therefore reads src's data ranges twice: the
// first pass finds the non-zero clusters and, with compression, compresses
// each one to learn its size, keeping the size (4 bytes per stored cluster)
// and, up to 64 MiB, the compressed bytes; the second pass writes,
// compressing again the clusters it did not keep (a compressor gives the
// same bytes for the same input) and checking that each comes out at its
// planned size. The file is the header cluster, the refcount table, the
// refcount blocks, the L1 table, the L2 tables that map something, then
// the data clusters in guest order: plain clusters cluster-aligned,
// compressed ones packed byte after byte as QEMU packs them. Refcounts are
// exact: qemu-img check reports no leak and no error. Memory is bounded:
// a window of about two 1 MiB jobs per worker, one table at a time, the
// list of runs of stored clusters, the sizes and the 64 MiB of kept bytes.
//
// progress, when not nil, is called with the bytes written so far and the
// total. WriteImage returns the number of bytes written to w.
func WriteImage(w io.Writer, src Source, opt WriteOptions, progress func(done, total int64)) (int64, error) {
	l, err := newWriterLayout(src.Size(), opt)
	if err != nil {
		return 0, err
	}
	cs, err := l.newCompressors(runtime.GOMAXPROCS(0))
	if err != nil {
		return 0, err
	}
	defer closeCompressors(cs)
	if err := l.scan(src, cs); err != nil {
		return 0, err
	}
	if err := l.place(); err != nil {
		return 0, err
	}
	s := newWriterStream(w, l.fileSize, progress)
	if err := l.writeMetadata(s); err != nil {
		return s.count.n, err
	}
	if err := l.writeData(s, src, cs); err != nil {
		return s.count.n, err
	}
	err = s.flush()
	return s.count.n, err
}
