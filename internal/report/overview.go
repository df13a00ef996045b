package report

import (
	"errors"

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
	DiskError string    `json:"disk_error,omitempty"`
	VHDX      *VHDXInfo `json:"vhdx,omitempty"`
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
