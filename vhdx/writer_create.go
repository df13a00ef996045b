package vhdx

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf16"

	"github.com/google/uuid"
)

// File is what the writer needs from storage; *os.File satisfies it.
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
}

// Writer errors. Errors returned by Create, OpenWriter and the Writer wrap
// one of these, one of the reader's sentinels, or the File's own error.
var (
	// ErrInvalidOptions means CreateOptions (or ParentInfo) are out of range
	// or inconsistent.
	ErrInvalidOptions = errors.New("invalid create options")
	// ErrWriteAlignment means a write's offset or length is not a multiple of
	// the logical sector size.
	ErrWriteAlignment = errors.New("write not aligned to the logical sector size")
	// ErrWriterClosed means the Writer was closed.
	ErrWriterClosed = errors.New("writer is closed")
)

// Defaults of CreateOptions.
const (
	DefaultBlockSize          = 32 * mib // what Windows uses
	DefaultLogSize            = 1 * mib
	DefaultCreator            = "VHDX Inspector"
	defaultLogicalSectorSize  = 512
	defaultPhysicalSectorSize = 4096
)

// CreateOptions describe the image Create writes.
type CreateOptions struct {
	// VirtualSize is the size of the virtual disk: at most 64 TiB and a
	// multiple of LogicalSectorSize. Required unless Parent is set, in which
	// case it defaults to (and must equal) the parent's.
	VirtualSize uint64
	// BlockSize is a power of two from 1 MiB to 256 MiB; default 32 MiB, or
	// the parent's for a differencing disk.
	BlockSize uint32
	// LogicalSectorSize is 512 or 4096; default 512 (a differencing disk
	// takes, and must match, the parent's).
	LogicalSectorSize uint32
	// PhysicalSectorSize is 512 or 4096; default 4096 (the parent's for a
	// differencing disk).
	PhysicalSectorSize uint32
	// Fixed allocates every block (FULLY_PRESENT, consecutive) and sets
	// LeaveBlocksAllocated. Not allowed with Parent.
	Fixed bool
	// LogSize is the log length: a multiple of 1 MiB; default 1 MiB.
	LogSize uint32
	// Creator is stored in the file type identifier; default "VHDX Inspector".
	Creator string
	// Parent makes a differencing disk.
	Parent *ParentInfo
}

// ParentInfo names the parent of a differencing disk.
type ParentInfo struct {
	// Image is the opened parent: its virtual size, sector sizes, block size
	// and current DataWriteGuid (which becomes parent_linkage) are used.
	Image *Image
	// Locator paths, written when non-empty; at least one is required.
	RelativePath, AbsoluteWin32Path, VolumePath string
}

// createLayout is the placement of every structure of a new image.
type createLayout struct {
	logOffset, logLength  uint64
	metaOffset, metaLen   uint64
	batOffset, batLength  uint64
	payloadOffset         uint64
	entryCount            uint64
	blockCount            uint64
	chunkRatio            uint64
	fileSize              uint64
	blockSize, lss, pss   uint32
	virtualSize           uint64
	fixed, hasParent      bool
	creator               string
	parentLinkage         uuid.UUID
	relPath, absPath, vol string
}

// batEntryCount is the number of BAT entries of a disk with n payload blocks
// (MS-VHDX 2.5): a disk without a parent interleaves one sector bitmap entry
// after every chunkRatio blocks; a differencing disk stores whole chunks.
func batEntryCount(n, chunkRatio uint64, hasParent bool) uint64 {
	if hasParent {
		return (n + chunkRatio - 1) / chunkRatio * (chunkRatio + 1)
	}
	return n + (n-1)/chunkRatio
}

func optErr(format string, args ...any) error {
	return fmt.Errorf("vhdx: create: %s: %w", fmt.Sprintf(format, args...), ErrInvalidOptions)
}

func roundUp(x, to uint64) uint64 { return (x + to - 1) / to * to }

// plan validates opt, applies defaults and places the structures.
func (opt CreateOptions) plan() (*createLayout, error) {
	l := &createLayout{
		virtualSize: opt.VirtualSize, blockSize: opt.BlockSize, lss: opt.LogicalSectorSize,
		pss: opt.PhysicalSectorSize, fixed: opt.Fixed, creator: opt.Creator, logLength: uint64(opt.LogSize),
	}
	if p := opt.Parent; p != nil {
		if opt.Fixed {
			return nil, optErr("a differencing disk cannot be fixed")
		}
		if p.Image == nil || p.Image.Metadata == nil || p.Image.readErr != nil {
			return nil, optErr("the parent image is missing or cannot be read as a disk")
		}
		h := p.Image.CurrentHeader()
		if h == nil {
			return nil, optErr("the parent image has no valid header")
		}
		if p.RelativePath == "" && p.AbsoluteWin32Path == "" && p.VolumePath == "" {
			return nil, optErr("a parent locator needs at least one of relative_path, absolute_win32_path, volume_path")
		}
		pm := p.Image.Metadata
		if l.virtualSize == 0 {
			l.virtualSize = pm.VirtualSize
		} else if l.virtualSize != pm.VirtualSize {
			return nil, optErr("virtual size %d differs from the parent's %d", l.virtualSize, pm.VirtualSize)
		}
		if l.lss == 0 {
			l.lss = pm.LogicalSectorSize
		} else if l.lss != pm.LogicalSectorSize {
			return nil, optErr("logical sector size %d differs from the parent's %d", l.lss, pm.LogicalSectorSize)
		}
		if l.pss == 0 && (pm.PhysicalSectorSize == 512 || pm.PhysicalSectorSize == 4096) {
			l.pss = pm.PhysicalSectorSize
		}
		if l.blockSize == 0 {
			l.blockSize = pm.BlockSize
		}
		l.hasParent = true
		l.parentLinkage = h.DataWriteGUID
		l.relPath, l.absPath, l.vol = p.RelativePath, p.AbsoluteWin32Path, p.VolumePath
	}
	if l.blockSize == 0 {
		l.blockSize = DefaultBlockSize
	}
	if l.lss == 0 {
		l.lss = defaultLogicalSectorSize
	}
	if l.pss == 0 {
		l.pss = defaultPhysicalSectorSize
	}
	if l.logLength == 0 {
		l.logLength = DefaultLogSize
	}
	if l.creator == "" {
		l.creator = DefaultCreator
	}
	switch {
	case l.blockSize < minBlockSize || l.blockSize > maxBlockSize || bits.OnesCount32(l.blockSize) != 1:
		return nil, optErr("block size %d is not a power of two from 1 MiB to 256 MiB", l.blockSize)
	case l.lss != 512 && l.lss != 4096:
		return nil, optErr("logical sector size %d, want 512 or 4096", l.lss)
	case l.pss != 512 && l.pss != 4096:
		return nil, optErr("physical sector size %d, want 512 or 4096", l.pss)
	case l.virtualSize == 0 || l.virtualSize > maxVirtualSize || l.virtualSize%uint64(l.lss) != 0:
		return nil, optErr("virtual size %d is not a non-zero multiple of the logical sector size up to 64 TiB", l.virtualSize)
	case l.logLength%mib != 0:
		return nil, optErr("log size %d is not a multiple of 1 MiB", l.logLength)
	case len(utf16.Encode([]rune(l.creator))) > 255:
		return nil, optErr("creator %q is longer than 255 UTF-16 code units", l.creator)
	}
	l.chunkRatio = (1 << 23) * uint64(l.lss) / uint64(l.blockSize)
	l.blockCount = (l.virtualSize + uint64(l.blockSize) - 1) / uint64(l.blockSize)
	l.entryCount = batEntryCount(l.blockCount, l.chunkRatio, l.hasParent)
	l.logOffset = headerAreaSize
	l.metaOffset = l.logOffset + l.logLength
	l.metaLen = 1 * mib
	l.batOffset = l.metaOffset + l.metaLen
	l.batLength = roundUp(8*l.entryCount, mib)
	if l.batLength > 1<<32-mib {
		return nil, optErr("the BAT (%d entries) does not fit a region", l.entryCount)
	}
	l.payloadOffset = l.batOffset + l.batLength
	l.fileSize = l.payloadOffset
	if l.fixed {
		l.fileSize += l.blockCount * uint64(l.blockSize)
	}
	return l, nil
}

// Create writes a complete, clean VHDX image to f, which it first truncates:
// file type identifier, two headers, two region tables, an empty log at
// 1 MiB, the metadata region, the BAT, and for a fixed disk every payload
// block. It syncs f before returning.
func Create(f File, opt CreateOptions) error {
	l, err := opt.plan()
	if err != nil {
		return err
	}
	meta, err := l.metadataRegion()
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("vhdx: create: %w", err)
	}
	if err := f.Truncate(int64(l.fileSize)); err != nil {
		return fmt.Errorf("vhdx: create: %w", err)
	}
	w := func(b []byte, off uint64) error {
		if _, err := f.WriteAt(b, int64(off)); err != nil {
			return fmt.Errorf("vhdx: create: writing at %#x: %w", off, err)
		}
		return nil
	}
	if err := w(l.identifier(), identifierOffset); err != nil {
		return err
	}
	rt := l.regionTable()
	if err := w(rt, region1Offset); err != nil {
		return err
	}
	if err := w(rt, region2Offset); err != nil {
		return err
	}
	if err := w(meta, l.metaOffset); err != nil {
		return err
	}
	if l.fixed {
		err := l.writeBAT(w, func(block uint64) uint64 { return l.payloadOffset + block*uint64(l.blockSize) })
		if err != nil {
			return err
		}
	}
	fileWrite, dataWrite := uuid.New(), uuid.New()
	for i, off := range []uint64{header1Offset, header2Offset} {
		h := encodeHeader(uint64(i+1), fileWrite, dataWrite, uuid.Nil, uint32(l.logLength), l.logOffset)
		if err := w(h, off); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("vhdx: create: %w", err)
	}
	return nil
}

// putGUID encodes u in Microsoft's mixed-endian layout (the inverse of guidAt).
func putGUID(b []byte, u uuid.UUID) {
	b[0], b[1], b[2], b[3] = u[3], u[2], u[1], u[0]
	b[4], b[5] = u[5], u[4]
	b[6], b[7] = u[7], u[6]
	copy(b[8:16], u[8:])
}

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		le.PutUint16(b[2*i:], c)
	}
	return b
}

func (l *createLayout) identifier() []byte {
	b := make([]byte, 8+512)
	copy(b, "vhdxfile")
	copy(b[8:], utf16LE(l.creator))
	return b
}

// encodeHeader returns a 4 KiB header with its checksum (MS-VHDX 2.2.2).
func encodeHeader(seq uint64, fileWrite, dataWrite, logGUID uuid.UUID, logLength uint32, logOffset uint64) []byte {
	b := make([]byte, headerSize)
	copy(b, "head")
	le.PutUint64(b[8:], seq)
	putGUID(b[16:], fileWrite)
	putGUID(b[32:], dataWrite)
	putGUID(b[48:], logGUID)
	le.PutUint16(b[64:], 0) // log version
	le.PutUint16(b[66:], 1) // version
	le.PutUint32(b[68:], logLength)
	le.PutUint64(b[72:], logOffset)
	le.PutUint32(b[4:], crcWithHole(b, 4))
	return b
}

func (l *createLayout) regionTable() []byte {
	b := make([]byte, regionTableSize)
	copy(b, "regi")
	le.PutUint32(b[8:], 2)
	for i, r := range []struct {
		g        uuid.UUID
		off, len uint64
	}{{RegionBAT, l.batOffset, l.batLength}, {RegionMetadata, l.metaOffset, l.metaLen}} {
		e := b[16+32*i:]
		putGUID(e, r.g)
		le.PutUint64(e[16:], r.off)
		le.PutUint32(e[24:], uint32(r.len))
		le.PutUint32(e[28:], 1) // required
	}
	le.PutUint32(b[4:], crcWithHole(b, 4))
	return b
}

// Metadata entry flags (MS-VHDX 2.6.1.2).
const (
	metaIsVirtualDisk = 2
	metaIsRequired    = 4
)

// metadataRegion returns the metadata table followed by the items, packed
// from 64 KiB (MS-VHDX 2.6).
func (l *createLayout) metadataRegion() ([]byte, error) {
	type item struct {
		id    uuid.UUID
		flags uint32
		data  []byte
	}
	fp := make([]byte, 8)
	le.PutUint32(fp, l.blockSize)
	var fpFlags uint32
	if l.fixed {
		fpFlags |= 1 // LeaveBlocksAllocated
	}
	if l.hasParent {
		fpFlags |= 2 // HasParent
	}
	le.PutUint32(fp[4:], fpFlags)
	vs := make([]byte, 8)
	le.PutUint64(vs, l.virtualSize)
	p83 := make([]byte, 16)
	putGUID(p83, uuid.New())
	lss, pss := make([]byte, 4), make([]byte, 4)
	le.PutUint32(lss, l.lss)
	le.PutUint32(pss, l.pss)
	items := []item{
		{ItemFileParameters, metaIsRequired, fp},
		{ItemVirtualDiskSize, metaIsVirtualDisk | metaIsRequired, vs},
		{ItemPage83Data, metaIsVirtualDisk | metaIsRequired, p83},
		{ItemLogicalSectorSize, metaIsVirtualDisk | metaIsRequired, lss},
		{ItemPhysicalSectorSize, metaIsVirtualDisk | metaIsRequired, pss},
	}
	if l.hasParent {
		pl, err := l.parentLocator()
		if err != nil {
			return nil, err
		}
		items = append(items, item{ItemParentLocator, metaIsRequired, pl})
	}
	total := uint64(metadataTableSize)
	for _, it := range items {
		total += uint64(len(it.data))
	}
	if total > l.metaLen {
		return nil, optErr("metadata items need %d bytes, more than the %d-byte region", total, l.metaLen)
	}
	b := make([]byte, total)
	copy(b, "metadata")
	le.PutUint16(b[10:], uint16(len(items)))
	at := uint32(metadataTableSize)
	for i, it := range items {
		e := b[32+32*i:]
		putGUID(e, it.id)
		le.PutUint32(e[16:], at)
		le.PutUint32(e[20:], uint32(len(it.data)))
		le.PutUint32(e[24:], it.flags)
		copy(b[at:], it.data)
		at += uint32(len(it.data))
	}
	return b, nil
}

// parentLocator encodes the VHDX parent locator item (MS-VHDX 2.6.2.6):
// header, key/value entries, then UTF-16LE keys and values; offsets are
// relative to the item's start.
func (l *createLayout) parentLocator() ([]byte, error) {
	kvs := [][2]string{{"parent_linkage", "{" + l.parentLinkage.String() + "}"}}
	for _, kv := range [][2]string{{"relative_path", l.relPath}, {"volume_path", l.vol}, {"absolute_win32_path", l.absPath}} {
		if kv[1] != "" {
			kvs = append(kvs, kv)
		}
	}
	head := 20 + 12*len(kvs)
	b := make([]byte, head)
	putGUID(b, ParentLocatorVHDX)
	le.PutUint16(b[18:], uint16(len(kvs)))
	for i, kv := range kvs {
		k, v := utf16LE(kv[0]), utf16LE(kv[1])
		if len(v) > 0xFFFF-1 {
			return nil, optErr("parent locator value for %s is %d bytes, more than 65534", kv[0], len(v))
		}
		e := b[20+12*i:]
		le.PutUint32(e, uint32(len(b)))
		le.PutUint32(e[4:], uint32(len(b)+len(k)))
		le.PutUint16(e[8:], uint16(len(k)))
		le.PutUint16(e[10:], uint16(len(v)))
		b = append(b, k...)
		b = append(b, v...)
	}
	if len(b) > maxItemLength {
		return nil, optErr("parent locator is %d bytes, more than 1 MiB", len(b))
	}
	return b, nil
}
