package qcow2

import (
	"encoding/binary"
	"fmt"
)

// Header extension types.
const (
	ExtEnd           = 0x00000000
	ExtBackingFormat = 0xe2792aca
	ExtFeatureNames  = 0x6803f857
	ExtBitmaps       = 0x23852875
	ExtCryptoHeader  = 0x0537be77
	ExtDataFile      = 0x44415441
)

// Extension is one header extension. Data holds its bytes (without the
// padding to 8 bytes); the known ones are also decoded into Image fields.
type Extension struct {
	Offset int64  `json:"offset"` // file offset of the type field
	Type   uint32 `json:"type"`
	Length uint32 `json:"length"`
	Name   string `json:"name"`
	Data   []byte `json:"data,omitempty"`
}

// DataOffset is the file offset of the extension's data.
func (e *Extension) DataOffset() int64 { return e.Offset + 8 }

var extensionNames = map[uint32]string{
	ExtEnd:           "end",
	ExtBackingFormat: "backing file format",
	ExtFeatureNames:  "feature name table",
	ExtBitmaps:       "bitmaps",
	ExtCryptoHeader:  "full disk encryption header pointer",
	ExtDataFile:      "external data file name",
}

// FeatureName is one entry of the feature name table extension.
type FeatureName struct {
	Offset int64       `json:"offset"`
	Kind   FeatureKind `json:"kind"`
	Bit    uint8       `json:"bit"`
	Name   string      `json:"name"`
}

// BitmapsExtension is the bitmaps header extension.
type BitmapsExtension struct {
	Offset          int64  `json:"offset"` // file offset of the extension data
	NbBitmaps       uint32 `json:"nb_bitmaps"`
	Reserved        uint32 `json:"reserved"`
	DirectorySize   uint64 `json:"bitmap_directory_size"`
	DirectoryOffset uint64 `json:"bitmap_directory_offset"`
}

// CryptoHeader is the full disk encryption header pointer extension: where
// the LUKS header lives in the file.
type CryptoHeader struct {
	Offset       int64  `json:"offset"` // file offset of the extension data
	HeaderOffset uint64 `json:"offset_in_file"`
	HeaderLength uint64 `json:"length"`
}

// parseExtensions reads the header extensions in b, the bytes of the file
// from start up to where extensions must end, and decodes the known ones
// into img.
func (img *Image) parseExtensions(b []byte, start int64) error {
	be := binary.BigEndian
	for pos := 0; ; {
		off := start + int64(pos)
		if len(b)-pos < 8 {
			return formatErr(ErrCorrupt, "header extensions", off, "no end-of-extensions marker before offset %d", start+int64(len(b)))
		}
		e := &Extension{Offset: off, Type: be.Uint32(b[pos:]), Length: be.Uint32(b[pos+4:])}
		e.Name = extensionNames[e.Type]
		if e.Name == "" {
			e.Name = "unknown"
		}
		if e.Type == ExtEnd {
			img.Extensions = append(img.Extensions, e)
			return nil
		}
		if uint64(e.Length) > uint64(len(b)-pos-8) {
			return formatErr(ErrCorrupt, fmt.Sprintf("header extension %#x", e.Type), off, "length %d runs past offset %d", e.Length, start+int64(len(b)))
		}
		e.Data = b[pos+8 : pos+8+int(e.Length)]
		img.Extensions = append(img.Extensions, e)
		if err := img.decodeExtension(e); err != nil {
			return err
		}
		pos += 8 + (int(e.Length)+7)&^7
		if pos > len(b) {
			pos = len(b)
		}
	}
}

// decodeExtension fills the Image field of a known extension.
func (img *Image) decodeExtension(e *Extension) error {
	be := binary.BigEndian
	d := e.Data
	switch e.Type {
	case ExtBackingFormat:
		img.BackingFormat = string(d)
	case ExtDataFile:
		img.DataFile = string(d)
	case ExtFeatureNames:
		for i := 0; i+48 <= len(d); i += 48 {
			img.FeatureNames = append(img.FeatureNames, FeatureName{
				Offset: e.DataOffset() + int64(i),
				Kind:   FeatureKind(d[i]),
				Bit:    d[i+1],
				Name:   cString(d[i+2 : i+48]),
			})
		}
	case ExtBitmaps:
		if len(d) < 24 {
			return formatErr(ErrCorrupt, "bitmaps extension", e.Offset, "length %d is below 24", len(d))
		}
		img.Bitmaps = &BitmapsExtension{Offset: e.DataOffset(), NbBitmaps: be.Uint32(d), Reserved: be.Uint32(d[4:]),
			DirectorySize: be.Uint64(d[8:]), DirectoryOffset: be.Uint64(d[16:])}
	case ExtCryptoHeader:
		if len(d) < 16 {
			return formatErr(ErrCorrupt, "encryption header pointer", e.Offset, "length %d is below 16", len(d))
		}
		img.CryptoHeader = &CryptoHeader{Offset: e.DataOffset(), HeaderOffset: be.Uint64(d), HeaderLength: be.Uint64(d[8:])}
	}
	return nil
}

// cString is b up to its first NUL byte.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// featureName is the name the feature name table gives a bit, or "".
func (img *Image) featureName(kind FeatureKind, bit uint) string {
	for _, f := range img.FeatureNames {
		if f.Kind == kind && uint(f.Bit) == bit {
			return f.Name
		}
	}
	return ""
}
