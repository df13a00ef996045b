package qcow2

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MaxBackingNameLength is the longest backing file name QEMU accepts.
const MaxBackingNameLength = 1023

// Cache budgets: L2 tables and refcount blocks kept in memory per image.
const (
	l2CacheBytes       = 16 << 20
	refcountCacheBytes = 4 << 20
)

// Image is an opened qcow2 file. An Image is safe for concurrent use.
type Image struct {
	Size       int64        // size of the file
	Header     *Header      // the header at offset 0
	Extensions []*Extension // header extensions in file order, the end marker included
	// Decoded extensions.
	BackingFormat string            // backing file format extension, "" if absent
	DataFile      string            // external data file name extension, "" if absent
	FeatureNames  []FeatureName     // feature name table
	Bitmaps       *BitmapsExtension // bitmaps extension, nil if absent
	CryptoHeader  *CryptoHeader     // encryption header pointer, nil if absent
	// BackingFile is the backing file name stored at
	// Header.BackingFileOffset, "" if none.
	BackingFile string
	// L1 is the active L1 table (Header.L1Size entries at
	// Header.L1TableOffset), RefcountTable the refcount table (whole
	// clusters at Header.RefcountTableOffset). L2 tables and refcount
	// blocks are read on demand: see L2 and Refcount.
	L1            []uint64
	RefcountTable []uint64
	Snapshots     []*Snapshot // the snapshot table

	r            io.ReaderAt
	l2Cache      *clusterCache
	refCache     *clusterCache
	snapshotsEnd int64 // file offset just past the snapshot table
	readErr      error // why the virtual disk cannot be read, or nil
}

// Open reads the qcow2 image in r, which holds size bytes. It fails when
// the file is not a qcow2 image or when a structure it reads at open
// (header, extensions, backing file name, L1 table, refcount table,
// snapshot table) is invalid. When err is non-nil but the file was
// recognised, the returned Image is also non-nil and holds every structure
// that could be parsed, for inspection tools.
//
// Problems that only stop the virtual disk from being read (encryption,
// unknown incompatible features) do not fail Open: OpenChain returns them.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	var magic [4]byte
	if size < 4 || readFull(r, magic[:], 0, "header") != nil || binary.BigEndian.Uint32(magic[:]) != Magic {
		return nil, formatErr(ErrNotQcow2, "header", 0, "no qcow2 magic")
	}
	img := &Image{Size: size, r: r}
	b := make([]byte, min(size, 4096))
	if err := readFull(r, b, 0, "header"); err != nil {
		return nil, err
	}
	if len(b) < headerV2Length {
		return nil, formatErr(ErrTruncated, "header", 0, "the file has %d bytes, a header needs %d", len(b), headerV2Length)
	}
	h, err := parseHeader(b)
	img.Header = h
	if err != nil {
		img.readErr = err
		return img, err
	}
	img.l2Cache = newClusterCache(l2CacheBytes, h.ClusterSize())
	img.refCache = newClusterCache(refcountCacheBytes, h.ClusterSize())
	for _, step := range []func() error{img.readExtensions, img.readBackingName, img.readL1, img.readRefcountTable, img.readSnapshots} {
		if err := step(); err != nil {
			img.readErr = err
			return img, err
		}
	}
	img.readErr = img.disabled()
	return img, nil
}

// disabled says why the data cannot be read though the structures are
// fine: encryption or unknown incompatible features.
func (img *Image) disabled() error {
	h := img.Header
	if u := h.UnknownIncompatible(); u != 0 {
		return formatErr(ErrUnsupported, "header", 72, "unknown incompatible feature bits %#x", u)
	}
	if h.CryptMethod != CryptNone {
		method := "AES"
		if h.CryptMethod == CryptLUKS {
			method = "LUKS"
		}
		return formatErr(ErrEncrypted, "header", 32, "data is encrypted with %s", method)
	}
	need := (h.VirtualSize + uint64(h.ClusterSize())*uint64(h.L2Entries()) - 1) / (uint64(h.ClusterSize()) * uint64(h.L2Entries()))
	if uint64(h.L1Size) < need {
		return formatErr(ErrCorrupt, "header", 36, "l1_size %d is below the %d entries a %d-byte disk needs", h.L1Size, need, h.VirtualSize)
	}
	return nil
}

// readExtensions reads the header extensions, which follow the header
// (version 2's too) and end at the backing file name or at the end of the
// first cluster.
func (img *Image) readExtensions() error {
	h := img.Header
	start := int64(h.HeaderLength)
	end := h.ClusterSize()
	if h.BackingFileOffset != 0 && h.BackingFileOffset < uint64(end) {
		end = int64(h.BackingFileOffset)
	}
	end = min(end, img.Size)
	if end <= start {
		return nil
	}
	b := make([]byte, end-start)
	if err := readFull(img.r, b, start, "header extensions"); err != nil {
		return err
	}
	return img.parseExtensions(b, start)
}

// readBackingName reads the backing file name.
func (img *Image) readBackingName() error {
	h := img.Header
	if h.BackingFileOffset == 0 {
		return nil
	}
	if h.BackingFileSize > MaxBackingNameLength {
		return formatErr(ErrCorrupt, "header", 16, "backing_file_size %d is above %d", h.BackingFileSize, MaxBackingNameLength)
	}
	if !inFile(h.BackingFileOffset, uint64(h.BackingFileSize), img.Size) {
		return formatErr(ErrTruncated, "backing file name", int64(min(h.BackingFileOffset, 1<<62)), "%d bytes run past the end of the file", h.BackingFileSize)
	}
	b := make([]byte, h.BackingFileSize)
	if err := readFull(img.r, b, int64(h.BackingFileOffset), "backing file name"); err != nil {
		return err
	}
	img.BackingFile = string(b)
	return nil
}

func (img *Image) readL1() (err error) {
	h := img.Header
	img.L1, err = img.readTable(h.L1TableOffset, uint64(h.L1Size), MaxL1Bytes, "L1 table", 40)
	return err
}

func (img *Image) readRefcountTable() (err error) {
	h := img.Header
	n := uint64(h.RefcountTableClusters) * uint64(h.ClusterSize()) / 8
	img.RefcountTable, err = img.readTable(h.RefcountTableOffset, n, MaxRefcountTableBytes, "refcount table", 48)
	return err
}

// ReadFile reads the image file itself (the bytes a hex viewer shows).
func (img *Image) ReadFile(p []byte, off int64) (int, error) { return img.r.ReadAt(p, off) }

// L2Entry is one decoded L2 table entry.
type L2Entry struct {
	Index      int64       `json:"index"`  // entry number in its table
	Offset     int64       `json:"offset"` // file offset of the entry
	Raw        uint64      `json:"raw,string"`
	Bitmap     uint64      `json:"bitmap,string,omitempty"` // subcluster bitmap (extended L2)
	Kind       ClusterKind `json:"kind"`
	HostOffset int64       `json:"host_offset"` // cluster offset, or the compressed data's byte offset
	// CompressedLength is the stored length of compressed data (the
	// descriptor's sector count, so it may overrun the stream).
	CompressedLength int64 `json:"compressed_length,omitempty"`
	Copied           bool  `json:"copied"` // bit 63: refcount is exactly 1
}

// L2 reads the L2 table L1 entry index points to and decodes its entries.
// It returns nil for an unallocated L1 entry.
func (img *Image) L2(index int) ([]L2Entry, error) {
	if index < 0 || index >= len(img.L1) {
		return nil, fmt.Errorf("qcow2: L1 entry %d of %d: %w", index, len(img.L1), ErrBeyondEnd)
	}
	t, off, err := img.l2Table(img.L1, uint64(index))
	if err != nil || t == nil {
		return nil, err
	}
	size := img.entrySize()
	out := make([]L2Entry, len(t)/int(size))
	for i := range out {
		e := l2Entry{raw: binary.BigEndian.Uint64(t[int64(i)*size:])}
		if size == 16 {
			e.bitmap = binary.BigEndian.Uint64(t[int64(i)*size+8:])
		}
		out[i] = img.decodeL2(e)
		out[i].Index, out[i].Offset = int64(i), off+int64(i)*size
	}
	return out, nil
}

// Refcount returns the stored refcount of the host cluster at file offset
// off (0 when no refcount block covers it).
func (img *Image) Refcount(off int64) (uint64, error) {
	if off < 0 {
		return 0, fmt.Errorf("qcow2: refcount of offset %d: %w", off, ErrBeyondEnd)
	}
	return img.refcount(uint64(off) >> img.Header.ClusterBits)
}
