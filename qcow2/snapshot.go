package qcow2

import (
	"encoding/binary"
	"fmt"
	"time"
)

// MaxSnapshots is the most snapshots QEMU allows in one image.
const MaxSnapshots = 65536

// Snapshot is one entry of the snapshot table.
type Snapshot struct {
	Offset        int64  `json:"offset"` // file offset of the entry
	Length        int64  `json:"length"` // bytes of the entry, padding included
	L1TableOffset uint64 `json:"l1_table_offset"`
	L1Size        uint32 `json:"l1_size"`
	IDSize        uint16 `json:"id_str_size"`
	NameSize      uint16 `json:"name_size"`
	DateSec       uint32 `json:"date_sec"`
	DateNsec      uint32 `json:"date_nsec"`
	VMClockNsec   uint64 `json:"vm_clock_nsec"`
	VMStateSize   uint32 `json:"vm_state_size"`
	ExtraDataSize uint32 `json:"extra_data_size"`
	// Extra data (present when ExtraDataSize covers it).
	VMStateSizeLarge uint64 `json:"vm_state_size_large"`
	DiskSize         uint64 `json:"disk_size"` // 0 when absent: the header's size applies
	ICount           uint64 `json:"icount"`
	HasICount        bool   `json:"has_icount"`
	ID               string `json:"id"`
	Name             string `json:"name"`
}

// Date is the time the snapshot was taken.
func (s *Snapshot) Date() time.Time { return time.Unix(int64(s.DateSec), int64(s.DateNsec)).UTC() }

// StateSize is the size of the saved VM state: the large field when the
// extra data has it.
func (s *Snapshot) StateSize() uint64 {
	if s.ExtraDataSize >= 8 {
		return s.VMStateSizeLarge
	}
	return uint64(s.VMStateSize)
}

// VirtualSize is the snapshot's disk size: DiskSize, or the image's when the
// entry has no such field.
func (s *Snapshot) VirtualSize(img *Image) uint64 {
	if s.ExtraDataSize >= 16 {
		return s.DiskSize
	}
	return img.Header.VirtualSize
}

const snapshotFixed = 40 // bytes of an entry before its extra data

// readSnapshots reads the snapshot table. Entries are checked against the
// file before anything is allocated for them.
func (img *Image) readSnapshots() error {
	h := img.Header
	if h.NbSnapshots == 0 {
		return nil
	}
	if h.NbSnapshots > MaxSnapshots {
		return formatErr(ErrCorrupt, "header", 60, "nb_snapshots %d is above %d", h.NbSnapshots, MaxSnapshots)
	}
	if h.SnapshotsOffset%uint64(h.ClusterSize()) != 0 {
		return formatErr(ErrCorrupt, "header", 64, "snapshots_offset %#x is not cluster aligned", h.SnapshotsOffset)
	}
	be := binary.BigEndian
	off := h.SnapshotsOffset
	var fixed [snapshotFixed]byte
	for i := uint32(0); i < h.NbSnapshots; i++ {
		where := fmt.Sprintf("snapshot %d", i)
		if !inFile(off, snapshotFixed, img.Size) {
			return formatErr(ErrTruncated, where, int64(min(off, 1<<62)), "the entry runs past the end of the file")
		}
		if err := readFull(img.r, fixed[:], int64(off), where); err != nil {
			return err
		}
		s := &Snapshot{Offset: int64(off)}
		s.L1TableOffset = be.Uint64(fixed[0:])
		s.L1Size = be.Uint32(fixed[8:])
		s.IDSize = be.Uint16(fixed[12:])
		s.NameSize = be.Uint16(fixed[14:])
		s.DateSec = be.Uint32(fixed[16:])
		s.DateNsec = be.Uint32(fixed[20:])
		s.VMClockNsec = be.Uint64(fixed[24:])
		s.VMStateSize = be.Uint32(fixed[32:])
		s.ExtraDataSize = be.Uint32(fixed[36:])
		rest := uint64(s.ExtraDataSize) + uint64(s.IDSize) + uint64(s.NameSize)
		if !inFile(off+snapshotFixed, rest, img.Size) {
			return formatErr(ErrTruncated, where, int64(off), "extra data, ID and name (%d bytes) run past the end of the file", rest)
		}
		b := make([]byte, rest)
		if err := readFull(img.r, b, int64(off)+snapshotFixed, where); err != nil {
			return err
		}
		extra := b[:s.ExtraDataSize]
		if len(extra) >= 8 {
			s.VMStateSizeLarge = be.Uint64(extra)
		}
		if len(extra) >= 16 {
			s.DiskSize = be.Uint64(extra[8:])
		}
		if len(extra) >= 24 {
			s.ICount, s.HasICount = be.Uint64(extra[16:]), true
		}
		s.ID = string(b[s.ExtraDataSize : uint64(s.ExtraDataSize)+uint64(s.IDSize)])
		s.Name = string(b[uint64(s.ExtraDataSize)+uint64(s.IDSize):])
		s.Length = int64((snapshotFixed + rest + 7) &^ 7)
		img.Snapshots = append(img.Snapshots, s)
		off += uint64(s.Length)
	}
	img.snapshotsEnd = int64(off)
	return nil
}

// Snapshot returns the snapshot whose ID, else whose name, is idOrName.
func (img *Image) Snapshot(idOrName string) (*Snapshot, bool) {
	for _, s := range img.Snapshots {
		if s.ID == idOrName {
			return s, true
		}
	}
	for _, s := range img.Snapshots {
		if s.Name == idOrName {
			return s, true
		}
	}
	return nil, false
}
