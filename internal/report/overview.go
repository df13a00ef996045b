package report

import (
	"errors"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// Overview is what every format has in common, with the format's own facts
// under the format's key. The command line's `info --json` prints it.
type Overview struct {
	Format      vdisk.Format `json:"format"`
	File        string       `json:"file"`
	DiskType    string       `json:"disk_type"` // "fixed", "dynamic" or "differencing"
	VirtualSize int64        `json:"virtual_size"`
	FileSize    int64        `json:"file_size"`
	// AllocatedSize is the bytes of the file that hold the disk's data
	// (blocks, clusters, bitmaps), not its metadata.
	AllocatedSize int64 `json:"allocated_size"`
	SectorSize    int64 `json:"sector_size"`
	// AllocationUnit is the VHDX block size or the qcow2 cluster size; 0
	// for raw images.
	AllocationUnit int64 `json:"allocation_unit"`
	// Layers is the chain of files the disk is read through, the image
	// itself first; only the part found before ChainError when it is
	// broken.
	Layers     []Layer `json:"layers"`
	ChainError string  `json:"chain_error,omitempty"`
	// Missing is the name of a file the chain needs that was not found.
	Missing string `json:"missing,omitempty"`
	// DiskError says why the virtual disk cannot be read, if it cannot.
	DiskError string     `json:"disk_error,omitempty"`
	VHDX      *VHDXInfo  `json:"vhdx,omitempty"`
	QCOW2     *QCOW2Info `json:"qcow2,omitempty"`
}

// Layer is one file of a chain.
type Layer struct {
	Name   string       `json:"name"`
	Role   vdisk.Role   `json:"role"`
	Format vdisk.Format `json:"format"`
}

// VHDXInfo is the VHDX part of an Overview.
type VHDXInfo struct {
	*Summary
	Chain      []ChainLayer `json:"chain,omitempty"`
	Structures Structures   `json:"structures"`
}

// OverviewOf builds the overview of img, whose disk (through its chain) is
// disk, or failed to open with diskErr. It reads what the format needs for
// its counts (a VHDX's whole BAT).
func OverviewOf(img *vdisk.Image, disk *vdisk.Disk, diskErr error) (*Overview, error) {
	o := &Overview{Format: img.Format, File: img.Name, FileSize: img.Size}
	var layers []vdisk.Layer
	var ce *vdisk.ChainError
	switch {
	case diskErr == nil:
		layers = disk.Layers()
		o.VirtualSize = disk.Size()
	case errors.As(diskErr, &ce):
		layers = ce.Found
		o.ChainError = diskErr.Error()
		if errors.Is(diskErr, vdisk.ErrMissing) {
			o.Missing = ce.Ref.Name
		}
	default:
		o.DiskError = diskErr.Error()
	}
	for _, l := range layers {
		o.Layers = append(o.Layers, Layer{Name: l.Name, Role: l.Role, Format: l.Image.Format})
	}
	switch n := img.Native().(type) {
	case *vhdx.Image:
		return o, describeVHDX(o, n, layers)
	case *qcow2.Image:
		return o, describeQCOW2(o, n)
	default: // raw
		o.DiskType, o.VirtualSize, o.AllocatedSize, o.SectorSize = "fixed", img.Size, img.Size, 512
	}
	return o, nil
}

func describeVHDX(o *Overview, img *vhdx.Image, layers []vdisk.Layer) error {
	s, err := Summarize(img)
	o.VHDX = &VHDXInfo{Summary: s, Structures: StructuresOf(img)}
	if s == nil {
		return err
	}
	if len(layers) > 1 {
		var vl []vhdx.Layer
		for _, l := range layers {
			vl = append(vl, vhdx.Layer{Image: l.Image.Native().(*vhdx.Image), Name: l.Name})
		}
		o.VHDX.Chain = Chain(vl)
	}
	o.DiskType, o.AllocatedSize = s.DiskType, s.AllocatedSize
	o.VirtualSize, o.SectorSize, o.AllocationUnit = int64(s.VirtualSize), int64(s.LogicalSectorSize), int64(s.BlockSize)
	return err
}

// QCOW2Info is the qcow2 part of an Overview.
type QCOW2Info struct {
	Version       uint32               `json:"version"`
	ClusterSize   int64                `json:"cluster_size"`
	Compression   string               `json:"compression"` // "deflate" or "zstd"
	Encryption    string               `json:"encryption"`  // "none", "aes" or "luks"
	Features      []qcow2.Feature      `json:"features"`
	Dirty         bool                 `json:"dirty"`
	Corrupt       bool                 `json:"corrupt"`
	RefcountBits  int                  `json:"refcount_bits"`
	ExtendedL2    bool                 `json:"extended_l2"`
	BackingFile   string               `json:"backing_file,omitempty"`
	BackingFormat string               `json:"backing_format,omitempty"`
	DataFile      string               `json:"data_file,omitempty"`
	DataFileRaw   bool                 `json:"data_file_raw,omitempty"`
	Snapshots     []*qcow2.Snapshot    `json:"snapshots"`
	Clusters      *qcow2.ClusterCounts `json:"clusters,omitempty"`
	Header        *qcow2.Header        `json:"header"`
	Extensions    []*qcow2.Extension   `json:"extensions"`
}

func describeQCOW2(o *Overview, img *qcow2.Image) error {
	h := img.Header
	q := &QCOW2Info{
		Version: h.Version, ClusterSize: h.ClusterSize(), Compression: "deflate", Encryption: "none",
		Features: img.Features(), Dirty: h.Dirty(), Corrupt: h.Corrupt(), RefcountBits: h.RefcountBits(), ExtendedL2: h.ExtendedL2(),
		BackingFile: img.BackingFile, BackingFormat: img.BackingFormat, DataFile: img.DataFile, DataFileRaw: h.DataFileRaw(),
		Snapshots: img.Snapshots, Header: h, Extensions: img.Extensions,
	}
	if h.CompressionType == 1 {
		q.Compression = "zstd"
	}
	switch h.CryptMethod {
	case 1:
		q.Encryption = "aes"
	case 2:
		q.Encryption = "luks"
	}
	if q.Snapshots == nil {
		q.Snapshots = []*qcow2.Snapshot{}
	}
	o.QCOW2 = q
	o.DiskType, o.SectorSize, o.AllocationUnit = "dynamic", 512, q.ClusterSize
	if img.BackingFile != "" {
		o.DiskType = "differencing"
	}
	if o.VirtualSize == 0 {
		o.VirtualSize = int64(h.VirtualSize)
	}
	c, err := img.Counts()
	q.Clusters = c
	if c != nil {
		o.AllocatedSize = c.AllocatedBytes
	}
	return err
}
