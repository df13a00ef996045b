//go:build js && wasm

package main

import (
	"errors"
	"io"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/partition"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// partsResult is what partitions() resolves to.
type partsResult struct {
	Scheme     string          `json:"scheme"`
	SectorSize int             `json:"sector_size"`
	DiskSize   int64           `json:"disk_size"`
	Partitions []partResult    `json:"partitions"`
	Findings   []vdisk.Finding `json:"findings"`
	Fields     []vdisk.Field   `json:"fields"`
}

// partResult is one partition with the filesystem probed in it.
type partResult struct {
	*partition.Partition
	Filesystem      *filesystem.Info `json:"filesystem"`
	FilesystemError string           `json:"filesystem_error,omitempty"`
}

// describeDisk reads the partition table of a virtual disk (r, size bytes)
// and probes the filesystem of each partition.
func describeDisk(r io.ReaderAt, size int64, sectorSize int) (*partsResult, error) {
	t, err := partition.Read(r, size, sectorSize)
	if err != nil {
		return nil, err
	}
	out := &partsResult{Scheme: t.Scheme, SectorSize: t.SectorSize, DiskSize: t.DiskSize,
		Partitions: []partResult{}, Findings: t.Findings, Fields: t.Fields()}
	for _, p := range t.Partitions {
		pr := partResult{Partition: p}
		if !p.Extended {
			sec := t.Section(r, p)
			info, err := filesystem.Probe(sec, sec.Size())
			switch {
			case err != nil:
				pr.FilesystemError = err.Error()
			case info != nil && info.Type != "":
				pr.Filesystem = info
			}
		}
		out.Partitions = append(out.Partitions, pr)
	}
	return out, nil
}

// partitions describes the partitions of the virtual disk shown, of any
// format.
func (e *engine) partitions([]js.Value) (any, error) {
	e.mu.Lock()
	disk, diskErr, img, vd, other := e.disk, e.diskErr, e.img, e.vd, e.vimg != nil
	e.mu.Unlock()
	var r io.ReaderAt
	var size int64
	sector := 512
	switch {
	case other && vd != nil:
		r, size = vd, vd.Size()
	case !other && disk != nil:
		r, size = disk, disk.Size()
		if m := img.Metadata; m != nil && m.LogicalSectorSize != 0 {
			sector = int(m.LogicalSectorSize)
		}
	default:
		if diskErr == nil {
			diskErr = errors.New("no image is open")
		}
		return nil, diskErr
	}
	out, err := describeDisk(r, size, sector)
	if err != nil {
		return nil, err
	}
	return jsonString(out)
}
