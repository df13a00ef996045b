package qcow2

import (
	"encoding/binary"
	"fmt"
)

// Magic is the first four bytes of every qcow2 file: "QFI\xfb".
const Magic = 0x514649fb

// Incompatible feature bits (header field incompatible_features).
const (
	IncompatDirty        = 1 << 0 // refcounts may be stale (lazy refcounts)
	IncompatCorrupt      = 1 << 1 // QEMU found corruption; open read-only
	IncompatDataFile     = 1 << 2 // guest data lives in an external data file
	IncompatCompression  = 1 << 3 // the compression_type field is valid
	IncompatExtendedL2   = 1 << 4 // L2 entries carry a subcluster bitmap
	incompatKnown        = IncompatDirty | IncompatCorrupt | IncompatDataFile | IncompatCompression | IncompatExtendedL2
	CompatLazyRefcounts  = 1 << 0 // compatible_features: lazy refcounts
	AutoclearBitmaps     = 1 << 0 // autoclear_features: bitmaps extension is consistent
	AutoclearDataFileRaw = 1 << 1 // autoclear_features: the data file is a raw image
)

// Compression types (header field compression_type).
const (
	CompressionDeflate = 0
	CompressionZstd    = 1
)

// Encryption methods (header field crypt_method).
const (
	CryptNone = 0
	CryptAES  = 1
	CryptLUKS = 2
)

// Header sizes: version 2's fixed header and version 3's minimum.
const (
	headerV2Length = 72
	headerV3Length = 104
)

// Header is the image header at offset 0. Version 2 headers leave the
// fields from IncompatibleFeatures on at their implied values (refcount
// order 4, header length 72).
type Header struct {
	Offset                int64  `json:"offset"`
	Length                int64  `json:"length"`
	Magic                 uint32 `json:"magic"`
	Version               uint32 `json:"version"`
	BackingFileOffset     uint64 `json:"backing_file_offset"`
	BackingFileSize       uint32 `json:"backing_file_size"`
	ClusterBits           uint32 `json:"cluster_bits"`
	VirtualSize           uint64 `json:"size"`
	CryptMethod           uint32 `json:"crypt_method"`
	L1Size                uint32 `json:"l1_size"`
	L1TableOffset         uint64 `json:"l1_table_offset"`
	RefcountTableOffset   uint64 `json:"refcount_table_offset"`
	RefcountTableClusters uint32 `json:"refcount_table_clusters"`
	NbSnapshots           uint32 `json:"nb_snapshots"`
	SnapshotsOffset       uint64 `json:"snapshots_offset"`
	IncompatibleFeatures  uint64 `json:"incompatible_features"`
	CompatibleFeatures    uint64 `json:"compatible_features"`
	AutoclearFeatures     uint64 `json:"autoclear_features"`
	RefcountOrder         uint32 `json:"refcount_order"`
	HeaderLength          uint32 `json:"header_length"`
	CompressionType       uint8  `json:"compression_type"`
}

// ClusterSize is 1 << ClusterBits.
func (h *Header) ClusterSize() int64 { return 1 << h.ClusterBits }

// RefcountBits is the width of a refcount entry: 1 << RefcountOrder.
func (h *Header) RefcountBits() int { return 1 << h.RefcountOrder }

// Dirty reports the dirty bit: refcounts were not flushed (lazy refcounts).
func (h *Header) Dirty() bool { return h.IncompatibleFeatures&IncompatDirty != 0 }

// Corrupt reports the corrupt bit QEMU sets when it finds corruption.
func (h *Header) Corrupt() bool { return h.IncompatibleFeatures&IncompatCorrupt != 0 }

// ExternalData reports that guest data lives in an external data file.
func (h *Header) ExternalData() bool { return h.IncompatibleFeatures&IncompatDataFile != 0 }

// ExtendedL2 reports 16-byte L2 entries with 32 subclusters per cluster.
func (h *Header) ExtendedL2() bool { return h.IncompatibleFeatures&IncompatExtendedL2 != 0 }

// DataFileRaw reports the autoclear bit saying the data file is raw.
func (h *Header) DataFileRaw() bool { return h.AutoclearFeatures&AutoclearDataFileRaw != 0 }

// L2Entries is the number of entries of an L2 table.
func (h *Header) L2Entries() int64 {
	if h.ExtendedL2() {
		return h.ClusterSize() / 16
	}
	return h.ClusterSize() / 8
}

// UnknownIncompatible returns the incompatible feature bits this package
// does not know.
func (h *Header) UnknownIncompatible() uint64 { return h.IncompatibleFeatures &^ incompatKnown }

// parseHeader decodes the header from b, which holds at least the first
// 72 bytes of the file (and up to its header_length).
func parseHeader(b []byte) (*Header, error) {
	be := binary.BigEndian
	h := &Header{Length: headerV2Length}
	h.Magic = be.Uint32(b[0:])
	if h.Magic != Magic {
		return nil, formatErr(ErrNotQcow2, "header", 0, "magic is %q", b[0:4])
	}
	h.Version = be.Uint32(b[4:])
	h.BackingFileOffset = be.Uint64(b[8:])
	h.BackingFileSize = be.Uint32(b[16:])
	h.ClusterBits = be.Uint32(b[20:])
	h.VirtualSize = be.Uint64(b[24:])
	h.CryptMethod = be.Uint32(b[32:])
	h.L1Size = be.Uint32(b[36:])
	h.L1TableOffset = be.Uint64(b[40:])
	h.RefcountTableOffset = be.Uint64(b[48:])
	h.RefcountTableClusters = be.Uint32(b[56:])
	h.NbSnapshots = be.Uint32(b[60:])
	h.SnapshotsOffset = be.Uint64(b[64:])
	h.RefcountOrder, h.HeaderLength = 4, headerV2Length
	if h.Version != 2 && h.Version != 3 {
		return h, formatErr(ErrUnsupported, "header", 4, "version %d (this package reads 2 and 3)", h.Version)
	}
	if h.Version == 3 {
		if len(b) < headerV3Length {
			return h, formatErr(ErrTruncated, "header", 0, "a version 3 header needs %d bytes, the file has %d", headerV3Length, len(b))
		}
		h.IncompatibleFeatures = be.Uint64(b[72:])
		h.CompatibleFeatures = be.Uint64(b[80:])
		h.AutoclearFeatures = be.Uint64(b[88:])
		h.RefcountOrder = be.Uint32(b[96:])
		h.HeaderLength = be.Uint32(b[100:])
		h.Length = int64(h.HeaderLength)
		if h.HeaderLength < headerV3Length || h.HeaderLength%8 != 0 {
			return h, formatErr(ErrCorrupt, "header", 100, "header_length %d is below 104 or not a multiple of 8", h.HeaderLength)
		}
		if h.HeaderLength > 104 {
			if int(h.HeaderLength) > len(b) {
				return h, formatErr(ErrTruncated, "header", 100, "header_length %d runs past the %d bytes the header may take", h.HeaderLength, len(b))
			}
			h.CompressionType = b[104]
		}
	}
	return h, h.validate()
}

// validate checks the fields the rest of the package relies on.
func (h *Header) validate() error {
	switch {
	case h.ClusterBits < 9 || h.ClusterBits > 21:
		return formatErr(ErrCorrupt, "header", 20, "cluster_bits %d is outside 9..21", h.ClusterBits)
	case h.RefcountOrder > 6:
		return formatErr(ErrCorrupt, "header", 96, "refcount_order %d is above 6", h.RefcountOrder)
	case h.VirtualSize > 1<<62:
		return formatErr(ErrCorrupt, "header", 24, "virtual size %d is too large", h.VirtualSize)
	case h.ExtendedL2() && h.ClusterBits < 14:
		return formatErr(ErrCorrupt, "header", 20, "extended L2 entries need clusters of at least 16 KiB, not %d bytes", h.ClusterSize())
	case h.IncompatibleFeatures&IncompatCompression != 0 && h.HeaderLength <= 104:
		return formatErr(ErrCorrupt, "header", 72, "the compression type bit is set but the header has no compression_type field")
	case h.CompressionType > CompressionZstd:
		return formatErr(ErrUnsupported, "header", 104, "compression type %d is unknown", h.CompressionType)
	case h.CryptMethod > CryptLUKS:
		return formatErr(ErrUnsupported, "header", 32, "encryption method %d is unknown", h.CryptMethod)
	}
	return nil
}

// FeatureKind says which header field a feature bit belongs to.
type FeatureKind uint8

// Feature kinds, numbered as in the feature name table.
const (
	FeatureIncompatible FeatureKind = 0
	FeatureCompatible   FeatureKind = 1
	FeatureAutoclear    FeatureKind = 2
)

// String returns "incompatible", "compatible" or "autoclear".
func (k FeatureKind) String() string {
	switch k {
	case FeatureIncompatible:
		return "incompatible"
	case FeatureCompatible:
		return "compatible"
	case FeatureAutoclear:
		return "autoclear"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// Feature is one feature bit set in the header.
type Feature struct {
	Kind  FeatureKind `json:"kind"`
	Bit   uint        `json:"bit"`
	Name  string      `json:"name"`
	Known bool        `json:"known"` // this package knows the bit's meaning
}

// knownFeatures names the bits the specification defines.
var knownFeatures = map[FeatureKind][]string{
	FeatureIncompatible: {"dirty", "corrupt", "external data file", "compression type", "extended L2 entries"},
	FeatureCompatible:   {"lazy refcounts"},
	FeatureAutoclear:    {"bitmaps", "raw external data"},
}

// Features lists every feature bit set in the header, named from the
// specification, else from the image's feature name table, else
// "unknown".
func (img *Image) Features() []Feature {
	var out []Feature
	h := img.Header
	for kind, bits := range [...]uint64{h.IncompatibleFeatures, h.CompatibleFeatures, h.AutoclearFeatures} {
		for bit := uint(0); bit < 64; bit++ {
			if bits>>bit&1 == 0 {
				continue
			}
			f := Feature{Kind: FeatureKind(kind), Bit: bit, Name: "unknown"}
			if names := knownFeatures[f.Kind]; bit < uint(len(names)) {
				f.Name, f.Known = names[bit], true
			} else if n := img.featureName(f.Kind, bit); n != "" {
				f.Name = n
			}
			out = append(out, f)
		}
	}
	return out
}
