package vhdxbuild

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// Well-known GUIDs from MS-VHDX v1.0, in their usual (RFC text order) form.
var (
	// BATRegionGUID identifies the block allocation table region.
	BATRegionGUID = uuid.MustParse("2DC27766-F623-4200-9D64-115E9BFD4A08")
	// MetadataRegionGUID identifies the metadata region.
	MetadataRegionGUID = uuid.MustParse("8B7CA206-4790-4B9A-B8FE-575F050F886E")

	// FileParametersGUID is the metadata item holding BlockSize and flags.
	FileParametersGUID = uuid.MustParse("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	// VirtualDiskSizeGUID is the metadata item holding the virtual size.
	VirtualDiskSizeGUID = uuid.MustParse("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	// VirtualDiskIDGUID is the metadata item holding the page 83 disk id.
	VirtualDiskIDGUID = uuid.MustParse("BECA12AB-B2E6-4523-93EF-C309E000C746")
	// LogicalSectorSizeGUID is the metadata item holding the logical sector size.
	LogicalSectorSizeGUID = uuid.MustParse("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	// PhysicalSectorSizeGUID is the metadata item holding the physical sector size.
	PhysicalSectorSizeGUID = uuid.MustParse("CDA348C7-445D-4471-9CC9-E9885251C556")
	// ParentLocatorGUID is the metadata item holding the parent locator.
	ParentLocatorGUID = uuid.MustParse("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
	// VHDXParentLocatorTypeGUID is the LocatorType of a VHDX parent locator.
	VHDXParentLocatorTypeGUID = uuid.MustParse("B04AEFB7-D19E-4A81-B789-25B8E9445913")
)

// Deterministic default GUIDs used by New, so that built images are
// reproducible byte for byte. They are derived from a fixed namespace.
var (
	builderNamespace = uuid.MustParse("6f0d4c1e-8a52-4b7e-9d8e-2f6a1c3b5d70")

	// DefaultFileWriteGUID is the FileWriteGuid New puts in both headers.
	DefaultFileWriteGUID = uuid.NewSHA1(builderNamespace, []byte("file-write"))
	// DefaultDataWriteGUID is the DataWriteGuid New puts in both headers.
	DefaultDataWriteGUID = uuid.NewSHA1(builderNamespace, []byte("data-write"))
	// DefaultLogGUID is the LogGuid AddLogEntry puts in the headers when
	// they have none yet.
	DefaultLogGUID = uuid.NewSHA1(builderNamespace, []byte("log"))
	// DefaultDiskID is the Virtual Disk ID (page 83 data) New uses when
	// Options.DiskID is zero.
	DefaultDiskID = uuid.NewSHA1(builderNamespace, []byte("disk-id"))
	// DefaultParentLinkage is the parent_linkage GUID of the default parent
	// locator that New creates for differencing images.
	DefaultParentLinkage = uuid.NewSHA1(builderNamespace, []byte("parent-linkage"))
)

// PutGUID stores u into b[0:16] in the Microsoft mixed-endian GUID layout:
// Data1 as little-endian uint32, Data2 and Data3 as little-endian uint16,
// Data4 (the last 8 bytes) unchanged.
func PutGUID(b []byte, u uuid.UUID) {
	_ = b[15]
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(u[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(u[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(u[6:8]))
	copy(b[8:16], u[8:16])
}

// GUIDBytes returns u in the 16-byte on-disk (mixed-endian) layout.
func GUIDBytes(u uuid.UUID) [16]byte {
	var b [16]byte
	PutGUID(b[:], u)
	return b
}

// ReadGUID is the inverse of PutGUID: it decodes the on-disk GUID in
// b[0:16] into a uuid.UUID (RFC byte order).
func ReadGUID(b []byte) uuid.UUID {
	_ = b[15]
	var u uuid.UUID
	binary.BigEndian.PutUint32(u[0:4], binary.LittleEndian.Uint32(b[0:4]))
	binary.BigEndian.PutUint16(u[4:6], binary.LittleEndian.Uint16(b[4:6]))
	binary.BigEndian.PutUint16(u[6:8], binary.LittleEndian.Uint16(b[6:8]))
	copy(u[8:16], b[8:16])
	return u
}
