// Package report turns an opened VHDX image into the summary and structure
// report that the command-line tool prints as JSON and the browser viewer
// draws, so both speak the same format.
package report

import (
	"cmp"
	"math"
	"slices"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// Summary holds the facts people ask about first. Block counts come from a
// full pass over the BAT.
type Summary struct {
	Creator               string            `json:"creator"`
	DiskType              string            `json:"disk_type"` // "fixed", "dynamic" or "differencing"
	VirtualSize           uint64            `json:"virtual_size"`
	BlockSize             uint32            `json:"block_size"`
	LogicalSectorSize     uint32            `json:"logical_sector_size"`
	PhysicalSectorSize    uint32            `json:"physical_sector_size"`
	HasParent             bool              `json:"has_parent"`
	LeaveBlocksAllocated  bool              `json:"leave_blocks_allocated"`
	FileSize              int64             `json:"file_size"`
	AllocatedSize         int64             `json:"allocated_size"` // bytes of file used by present payload blocks and sector bitmaps
	Page83                string            `json:"page83_data"`
	HeaderSequenceNumbers [2]uint64         `json:"header_sequence_numbers"`
	CurrentHeader         int               `json:"current_header"` // 1 or 2
	CurrentHeaderReason   string            `json:"current_header_reason"`
	ChunkRatio            uint64            `json:"chunk_ratio"`
	PayloadBlocks         uint64            `json:"payload_blocks"`
	BATEntries            uint64            `json:"bat_entries"`
	LogReplayNeeded       bool              `json:"log_replay_needed"`
	LogEntriesActive      int               `json:"log_entries_in_active_sequence"`
	BlockStates           map[string]uint64 `json:"block_states"`
	BlockStatesOnDisk     map[string]uint64 `json:"block_states_on_disk"`
	SectorBitmapsPresent  uint64            `json:"sector_bitmaps_present"`
	Replay                *vhdx.Replay      `json:"replay,omitempty"`
	ParentLocator         []vhdx.KeyValue   `json:"parent_locator,omitempty"`
	// DiskError says why the virtual disk cannot be read, if it cannot.
	DiskError string `json:"disk_error,omitempty"`
}

// Summarize builds the summary of img, reading its BAT once (twice when a
// replayed log makes the on-disk view differ).
func Summarize(img *vhdx.Image) (*Summary, error) {
	s := Describe(img)
	if img.BAT == nil {
		return s, nil
	}
	blocks, bitmaps, err := img.BAT.Counts()
	if err != nil {
		return s, err
	}
	onDisk := blocks
	if disk := img.OnDisk(); disk != img && disk != nil && disk.BAT != nil {
		if onDisk, _, err = disk.BAT.Counts(); err != nil {
			return s, err
		}
	}
	s.SetCounts(blocks, bitmaps, onDisk)
	return s, nil
}

// Describe builds the summary of img from its headers, log, metadata and
// the BAT's geometry, without reading the BAT: the block counts and the
// allocated size stay empty until SetCounts. The disk type comes from the
// file parameters, as the format defines it: a disk with a parent is
// differencing; one that leaves its blocks allocated is fixed; any other is
// dynamic (even when every block happens to be present).
func Describe(img *vhdx.Image) *Summary {
	s := &Summary{
		Creator:         img.Identifier.Creator,
		FileSize:        img.Size,
		CurrentHeader:   img.Current + 1,
		LogReplayNeeded: img.Log != nil && img.Log.ReplayNeeded,
		Replay:          img.Replay,
	}
	s.CurrentHeaderReason = img.CurrentReason
	for i, h := range img.Headers {
		if h != nil {
			s.HeaderSequenceNumbers[i] = h.SequenceNumber
		}
	}
	if img.Log != nil {
		s.LogEntriesActive = len(img.Log.Active)
	}
	if _, err := img.Disk(); err != nil {
		s.DiskError = err.Error()
	}
	if m := img.Metadata; m != nil {
		s.VirtualSize, s.BlockSize = m.VirtualSize, m.BlockSize
		s.LogicalSectorSize, s.PhysicalSectorSize = m.LogicalSectorSize, m.PhysicalSectorSize
		s.HasParent, s.LeaveBlocksAllocated = m.HasParent, m.LeaveBlocksAllocated
		s.Page83 = m.Page83.String()
		if m.ParentLocator != nil {
			s.ParentLocator = m.ParentLocator.Entries
		}
		switch {
		case m.HasParent:
			s.DiskType = "differencing"
		case m.LeaveBlocksAllocated:
			s.DiskType = "fixed"
		default:
			s.DiskType = "dynamic"
		}
	}
	if img.BAT != nil {
		s.ChunkRatio, s.PayloadBlocks, s.BATEntries = img.BAT.ChunkRatio, img.BAT.BlockCount, img.BAT.EntryCount
	}
	return s
}

// SetCounts fills in what a pass over the BAT gives: blocks and bitmaps
// count the payload and sector bitmap entries of the image's BAT by state
// (after log replay), onDisk the payload entries as the file holds them
// (the same counts when no log was replayed).
func (s *Summary) SetCounts(blocks, bitmaps, onDisk vhdx.StateCounts) {
	s.BlockStates = blocks.Map()
	s.BlockStatesOnDisk = onDisk.Map()
	s.SectorBitmapsPresent = bitmaps[vhdx.SectorBitmapPresent]
	s.AllocatedSize = int64(blocks[vhdx.FullyPresent]+blocks[vhdx.PartiallyPresent])*int64(s.BlockSize) + int64(s.SectorBitmapsPresent)<<20
}

// Structures is every parsed structure with its file offset.
type Structures struct {
	Identifier   *vhdx.FileIdentifier `json:"identifier"`
	Headers      [2]*vhdx.Header      `json:"headers"`
	RegionTables [2]*vhdx.RegionTable `json:"region_tables"`
	Metadata     *vhdx.Metadata       `json:"metadata,omitempty"`
	Log          *vhdx.Log            `json:"log,omitempty"`
	BAT          *vhdx.BAT            `json:"bat,omitempty"`
}

// Report is the complete description of an image: summary, structures and
// validation findings.
type Report struct {
	Summary    *Summary        `json:"summary"`
	Structures Structures      `json:"structures"`
	Findings   []vdisk.Finding `json:"findings"`
}

// StructuresOf collects the structures of img.
func StructuresOf(img *vhdx.Image) Structures {
	return Structures{Identifier: img.Identifier, Headers: img.Headers, RegionTables: img.RegionTables, Metadata: img.Metadata, Log: img.Log, BAT: img.BAT}
}

// Build makes the full report of img.
func Build(img *vhdx.Image) (*Report, error) {
	s, err := Summarize(img)
	if err != nil {
		return nil, err
	}
	return &Report{Summary: s, Structures: StructuresOf(img), Findings: vdisk.FromVHDX(img, "").Check()}, nil
}

// Findings is a validation result with its tallies.
type Findings struct {
	Findings []vdisk.Finding `json:"findings"` // never null in JSON
	Errors   int             `json:"errors"`
	Warnings int             `json:"warnings"`
}

// Tally counts the errors and warnings among fs and sorts them worst
// first, then by file offset (findings without an offset last, each group
// in the order found).
func Tally(fs []vdisk.Finding) Findings {
	out := Findings{Findings: slices.Clone(fs)}
	if out.Findings == nil {
		out.Findings = []vdisk.Finding{}
	}
	rank := map[vdisk.Severity]int{vdisk.SeverityError: 0, vdisk.SeverityWarning: 1, vdisk.SeverityInfo: 2}
	offset := func(f vdisk.Finding) int64 {
		if f.Offset < 0 {
			return math.MaxInt64
		}
		return f.Offset
	}
	slices.SortStableFunc(out.Findings, func(a, b vdisk.Finding) int {
		return cmp.Or(cmp.Compare(rank[a.Severity], rank[b.Severity]), cmp.Compare(offset(a), offset(b)))
	})
	for _, f := range fs {
		switch f.Severity {
		case vdisk.SeverityError:
			out.Errors++
		case vdisk.SeverityWarning:
			out.Warnings++
		}
	}
	return out
}
