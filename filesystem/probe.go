package filesystem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"unicode/utf16"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// Filesystem and container types, as Info.Type reports them.
const (
	TypeNTFS    = "ntfs"
	TypeFAT12   = "fat12"
	TypeFAT16   = "fat16"
	TypeFAT32   = "fat32"
	TypeExFAT   = "exfat"
	TypeExt2    = "ext2"
	TypeExt3    = "ext3"
	TypeExt4    = "ext4"
	TypeXFS     = "xfs"
	TypeBtrfs   = "btrfs"
	TypeSwap    = "swap"
	TypeISO9660 = "iso9660"
	TypeLVM2    = "lvm2"
	TypeLUKS    = "luks"
)

// Info describes what Probe found at offset 0 of a range.
type Info struct {
	// Type is one of the Type constants, or "" when nothing was recognised.
	Type string `json:"type"`
	// Label is the volume label, "" if none.
	Label string `json:"label"`
	// UUID is the UUID or volume serial number, formatted as blkid prints
	// it (e.g. "1234-ABCD" for FAT and exFAT, 16 hex digits for NTFS).
	UUID string `json:"uuid"`
	// Size is the size in bytes the superblock gives the filesystem.
	Size int64 `json:"size"`
	// BlockSize is the block or cluster size in bytes (the page size for
	// swap, the logical block size for ISO 9660), 0 if it has none.
	BlockSize int64 `json:"block_size"`
	// Used is the number of bytes in use as the filesystem counts them
	// (for FAT, exFAT and NTFS: Size less the free clusters), -1 when it is
	// not known (LVM2, LUKS, swap, or a structure that cannot be read).
	Used int64 `json:"used"`
	// Version is the on-disk format version, e.g. "5" for XFS v5, "3.1"
	// for NTFS, "1" for swap.
	Version string `json:"version,omitempty"`
	// Features lists the feature flags the superblock sets, by name.
	Features []string `json:"features,omitempty"`
	// Container is true for a volume container (LVM2 physical volume,
	// LUKS): it holds volumes rather than files. The logical volumes of an
	// LVM2 physical volume are read with package partition's ReadLVM.
	Container bool `json:"container,omitempty"`
	// Fields names every field of the superblock or boot sector (and the
	// other structures read), at offsets from the start of the range.
	Fields []vdisk.Field `json:"fields,omitempty"`
}

// A ReadError reports that the bytes of a structure could not be read.
type ReadError struct {
	Structure string // the structure being read, e.g. "NTFS boot sector"
	Offset    int64  // its offset from the start of the range
	Err       error  // the reader's error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("filesystem: reading %s at offset %#x: %v", e.Structure, e.Offset, e.Err)
}

// Unwrap returns the reader's error.
func (e *ReadError) Unwrap() error { return e.Err }

// errOutside reports a structure that lies beyond the end of the range:
// the probe that wanted it does not match.
var errOutside = errors.New("beyond the end of the range")

// probes are tried in order; the first that recognises its signature wins.
// Those whose signature is strongest come first, FAT (a heuristic) last.
var probes = []func(*prober) (*Info, error){
	probeLUKS, probeLVM2, probeXFS, probeExt, probeBtrfs, probeSwap,
	probeISO9660, probeNTFS, probeExFAT, probeFAT,
}

// Probe identifies the filesystem or container starting at offset 0 of r,
// a range of size bytes. When nothing is recognised it returns an Info
// whose Type is "" and a nil error; an error means r could not be read.
func Probe(r io.ReaderAt, size int64) (*Info, error) {
	p := &prober{r: r, size: size}
	for _, probe := range probes {
		info, err := probe(p)
		if err != nil {
			return nil, err
		}
		if info != nil {
			info.Fields = p.fields
			return info, nil
		}
		p.fields = nil
	}
	return &Info{Used: -1}, nil
}

// prober reads structures of one range and collects their fields.
type prober struct {
	r      io.ReaderAt
	size   int64
	fields []vdisk.Field
}

// read returns the n bytes at off. A range too small to hold them yields
// errOutside; any other failure a *ReadError.
func (p *prober) read(structure string, off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > p.size || int64(n) > p.size-off {
		return nil, errOutside
	}
	b := make([]byte, n)
	m, err := p.r.ReadAt(b, off)
	if m == n {
		return b, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, &ReadError{Structure: structure, Offset: off, Err: err}
}

// readSig is read for a probe's first structure: errOutside means the
// probe does not match and is turned into (nil, nil).
func (p *prober) readSig(structure string, off int64, n int) ([]byte, error) {
	b, err := p.read(structure, off, n)
	return b, ignoreOutside(err)
}

// ignoreOutside turns errOutside into nil: the probe does not match.
func ignoreOutside(err error) error {
	if errors.Is(err, errOutside) {
		return nil
	}
	return err
}

func (p *prober) add(structure string, off, n int64, name, format string, args ...any) {
	p.fields = append(p.fields, vdisk.Field{Offset: off, Length: n, Structure: structure, Name: name, Value: fmt.Sprintf(format, args...)})
}

// Little- and big-endian integers at an offset of a buffer.
func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func be16(b []byte, off int) uint16 { return binary.BigEndian.Uint16(b[off:]) }
func be32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }
func be64(b []byte, off int) uint64 { return binary.BigEndian.Uint64(b[off:]) }

// uuidString formats 16 bytes in the usual 8-4-4-4-12 form, in the order
// they are stored.
func uuidString(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// utf16String decodes UTF-16 code units (little-endian unless big) up to
// the first NUL.
func utf16String(b []byte, big bool) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if big {
			c = binary.BigEndian.Uint16(b[i:])
		}
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// flagNames names the bits of v set in names, and any others in hex.
func flagNames(v uint64, names map[uint64]string) []string {
	var out []string
	for bit := uint64(1); bit != 0; bit <<= 1 {
		if v&bit == 0 {
			continue
		}
		if n, ok := names[bit]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("%#x", bit))
		}
	}
	return out
}

// isPow2 reports whether v is a power of two within [lo, hi].
func isPow2(v, lo, hi int64) bool {
	return v >= lo && v <= hi && v&(v-1) == 0
}

// popcount counts the set bits of b.
func popcount(b []byte) int64 {
	var n int
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}
