// Package fat browses FAT12, FAT16, FAT32 and exFAT filesystems, deleted
// directory entries included.
//
// It reads the on-disk structures itself. The FAT readers evaluated for the
// project do not expose what browsing needs: github.com/soypat/fat (a FatFs
// port, 512-byte sectors only) and github.com/Velocidex/go-fat (no exFAT)
// hide deleted entries, the creation and access times and the cluster
// chains; with the directory entries parsed here, the rest is following
// the FAT.
package fat

import (
	"encoding/binary"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/filedata"
)

// Kind is the FAT variant.
type Kind string

// FAT variants, named as filesystem.Probe names them.
const (
	FAT12 Kind = "fat12"
	FAT16 Kind = "fat16"
	FAT32 Kind = "fat32"
	ExFAT Kind = "exfat"
)

// Volume holds the geometry read from the boot sector.
type Volume struct {
	Kind              Kind
	BytesPerSector    int64
	SectorsPerCluster int64
	FATOffset         int64 // byte offset of the first FAT
	FATSize           int64 // bytes of one FAT
	// RootOffset and RootSize locate the fixed root directory of FAT12
	// and FAT16; RootCluster is the first cluster of the root directory
	// of FAT32 and exFAT.
	RootOffset  int64
	RootSize    int64
	RootCluster uint32
	HeapOffset  int64  // byte offset of cluster 2
	Clusters    uint32 // number of data clusters
	// SlotBase is the byte offset from which The Sleuth Kit numbers
	// directory-entry slots (its inode numbers): the end of the FATs, or
	// exFAT's cluster heap.
	SlotBase int64
}

// ClusterSize returns the bytes of one cluster.
func (v *Volume) ClusterSize() int64 { return v.BytesPerSector * v.SectorsPerCluster }

// FS is an open FAT or exFAT filesystem.
type FS struct {
	r    io.ReaderAt
	size int64
	vol  Volume
	fat  fatCache
	dirs map[string]*node // directory path -> node, resolved so far
}

// Volume returns the filesystem's geometry.
func (fsys *FS) Volume() Volume { return fsys.vol }

// Open reads the boot sector of the FAT12/16/32 or exFAT filesystem held in
// r's first size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	b := make([]byte, 512)
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, &filesystem.FormatError{Structure: "boot sector", Err: filesystem.ErrCorrupt, Detail: err.Error()}
	}
	var vol Volume
	var err error
	if string(b[3:11]) == "EXFAT   " {
		vol, err = exfatVolume(b)
	} else {
		vol, err = fatVolume(b)
	}
	if err != nil {
		return nil, err
	}
	end := vol.HeapOffset + int64(vol.Clusters)*vol.ClusterSize()
	if vol.FATOffset+vol.FATSize > size || vol.HeapOffset > size || end < vol.HeapOffset {
		return nil, filesystem.Corrupt("boot sector", 0, "FAT or data area beyond the end of the filesystem (%d bytes)", size)
	}
	if end > size {
		// A truncated image: keep the clusters that are there.
		vol.Clusters = uint32((size - vol.HeapOffset) / vol.ClusterSize())
	}
	fsys := &FS{r: r, size: size, vol: vol}
	fsys.fat.fsys = fsys
	root := &node{entry: filesystem.Entry{Path: "/", Type: filesystem.TypeDir, ID: "2", Mode: filesystem.DOSMode(0, true)}, first: vol.RootCluster}
	fsys.dirs = map[string]*node{"/": root}
	return fsys, nil
}

// fatVolume reads a FAT12/16/32 BIOS parameter block.
func fatVolume(b []byte) (Volume, error) {
	le := binary.LittleEndian
	bps, spc := int64(le.Uint16(b[11:])), int64(b[13])
	reserved, fats, rootEntries := int64(le.Uint16(b[14:])), int64(b[16]), int64(le.Uint16(b[17:]))
	total := int64(le.Uint16(b[19:]))
	if total == 0 {
		total = int64(le.Uint32(b[32:]))
	}
	fatSectors := int64(le.Uint16(b[22:]))
	if fatSectors == 0 {
		fatSectors = int64(le.Uint32(b[36:]))
	}
	switch {
	case le.Uint16(b[510:]) != 0xAA55 && b[0] != 0xEB && b[0] != 0xE9:
		return Volume{}, filesystem.Corrupt("boot sector", 0, "no boot signature")
	case bps < 512 || bps > 4096 || bps&(bps-1) != 0:
		return Volume{}, filesystem.Corrupt("boot sector", 11, "bytes per sector %d", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return Volume{}, filesystem.Corrupt("boot sector", 13, "sectors per cluster %d", spc)
	case reserved == 0 || fats == 0 || fatSectors == 0:
		return Volume{}, filesystem.Corrupt("boot sector", 14, "reserved sectors %d, %d FATs of %d sectors", reserved, fats, fatSectors)
	}
	rootSectors := (rootEntries*32 + bps - 1) / bps
	dataStart := reserved + fats*fatSectors + rootSectors
	if total <= dataStart {
		return Volume{}, filesystem.Corrupt("boot sector", 19, "%d sectors, data starts at sector %d", total, dataStart)
	}
	clusters := (total - dataStart) / spc
	v := Volume{
		BytesPerSector:    bps,
		SectorsPerCluster: spc,
		FATOffset:         reserved * bps,
		FATSize:           fatSectors * bps,
		RootOffset:        (reserved + fats*fatSectors) * bps,
		RootSize:          rootSectors * bps,
		HeapOffset:        dataStart * bps,
		Clusters:          uint32(min(clusters, 1<<28)),
		SlotBase:          (reserved + fats*fatSectors) * bps,
	}
	switch {
	case clusters < 4085:
		v.Kind = FAT12
	case clusters < 65525:
		v.Kind = FAT16
	default:
		v.Kind = FAT32
		v.RootCluster = le.Uint32(b[44:])
		v.RootSize = 0
	}
	if v.Kind != FAT32 && rootEntries == 0 {
		return Volume{}, filesystem.Corrupt("boot sector", 17, "FAT12/16 without root directory entries")
	}
	return v, nil
}

// exfatVolume reads an exFAT boot sector.
func exfatVolume(b []byte) (Volume, error) {
	le := binary.LittleEndian
	bpsShift, spcShift := b[108], b[109]
	if bpsShift < 9 || bpsShift > 12 || spcShift > 25-bpsShift {
		return Volume{}, filesystem.Corrupt("boot sector", 108, "sector shift %d, cluster shift %d", bpsShift, spcShift)
	}
	bps := int64(1) << bpsShift
	v := Volume{
		Kind:              ExFAT,
		BytesPerSector:    bps,
		SectorsPerCluster: int64(1) << spcShift,
		FATOffset:         int64(le.Uint32(b[80:])) * bps,
		FATSize:           int64(le.Uint32(b[84:])) * bps,
		HeapOffset:        int64(le.Uint32(b[88:])) * bps,
		Clusters:          le.Uint32(b[92:]),
		RootCluster:       le.Uint32(b[96:]),
	}
	v.SlotBase = v.HeapOffset
	if v.FATOffset == 0 || v.HeapOffset == 0 || v.Clusters == 0 || v.Clusters > 1<<32-11 {
		return Volume{}, filesystem.Corrupt("boot sector", 80, "FAT at %d, heap at %d, %d clusters", v.FATOffset, v.HeapOffset, v.Clusters)
	}
	return v, nil
}

// src returns the filesystem's bytes.
func (fsys *FS) src() filedata.Source { return filedata.Source{R: fsys.r, Size: fsys.size} }

// readAt reads len(p) bytes at off, or fails naming structure.
func (fsys *FS) readAt(p []byte, off int64, structure string) error {
	return fsys.src().Read(p, off, structure)
}
