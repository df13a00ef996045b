//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// rawBlockSize is the unit the block map of a raw image counts in.
const rawBlockSize = 1 << 20

// otherResult is what open and openFiles resolve to for an image that is
// not a VHDX (qcow2, raw): the format-neutral overview, with a summary of
// the few facts the page shares with VHDX.
type otherResult struct {
	Key      string           `json:"key"`
	Cached   bool             `json:"cached"`
	Name     string           `json:"name"`
	Format   vdisk.Format     `json:"format"`
	Overview *report.Overview `json:"overview"`
	Summary  otherSummary     `json:"summary"`
	Error    string           `json:"error,omitempty"`
	// Chain lists the files the disk reads through, the image shown first
	// (only those found before ChainError when it is broken).
	Chain         []report.Layer `json:"chain"`
	ChainError    string         `json:"chain_error,omitempty"`
	MissingParent string         `json:"missing_parent,omitempty"`
	// MissingRole is what the missing file is to the image: "parent",
	// "backing file" or "data file".
	MissingRole vdisk.Role `json:"missing_role,omitempty"`
	Others      []string   `json:"others,omitempty"`
	// Snapshot is the internal snapshot whose disk is read, "" for the
	// current one.
	Snapshot string `json:"snapshot,omitempty"`
}

// otherSummary holds the facts the page reads from every format's summary.
type otherSummary struct {
	DiskType          string            `json:"disk_type"`
	VirtualSize       int64             `json:"virtual_size"`
	FileSize          int64             `json:"file_size"`
	LogicalSectorSize int64             `json:"logical_sector_size"`
	BlockSize         int64             `json:"block_size"`     // cluster size; rawBlockSize for raw
	PayloadBlocks     int64             `json:"payload_blocks"` // clusters of the virtual disk
	BlockStates       map[string]uint64 `json:"block_states"`   // clusters by kind in the image shown
	DiskError         string            `json:"disk_error,omitempty"`
}

// openOther shows e.top, an image in a format other than VHDX, reading
// the internal snapshot named snapshot ("" for the current disk). e.mu is
// held.
func (e *engine) openOther(snapshot string) (any, error) {
	top := e.top
	e.img, e.blocks, e.disk, e.key = nil, nil, nil, ""
	e.vimg, e.snapshot, e.maps = top.vimg, snapshot, nil
	e.vd, e.diskErr = top.vimg.OpenDisk(e.resolveRef, snapshot)
	ov, err := report.OverviewOf(top.vimg, e.vd, e.diskErr)
	res := otherResult{Name: top.name, Format: top.vimg.Format, Overview: ov, Snapshot: snapshot,
		Chain: ov.Layers, ChainError: ov.ChainError, MissingParent: ov.Missing}
	var ce *vdisk.ChainError
	if errors.As(e.diskErr, &ce) && ov.Missing != "" {
		res.MissingRole = ce.Ref.Role
	}
	switch {
	case top.err != nil:
		res.Error = top.err.Error()
	case err != nil:
		res.Error = err.Error()
	}
	if res.Chain == nil {
		res.Chain = []report.Layer{{Name: top.name, Role: vdisk.RoleImage, Format: top.vimg.Format}}
	}
	s := otherSummary{DiskType: ov.DiskType, VirtualSize: ov.VirtualSize, FileSize: ov.FileSize,
		LogicalSectorSize: ov.SectorSize, BlockSize: ov.AllocationUnit, DiskError: ov.DiskError}
	if e.vd != nil {
		s.VirtualSize = e.vd.Size()
	}
	switch {
	case ov.QCOW2 != nil && ov.QCOW2.Clusters != nil:
		s.BlockStates = ov.QCOW2.Clusters.Kinds
	case top.vimg.Format == vdisk.Raw:
		s.BlockSize = rawBlockSize
		s.BlockStates = map[string]uint64{"data": uint64(ceilDiv(s.VirtualSize, rawBlockSize))}
	}
	if s.BlockSize > 0 {
		s.PayloadBlocks = ceilDiv(s.VirtualSize, s.BlockSize)
	}
	res.Summary, e.summary = s, s
	used := map[string]bool{}
	for _, l := range res.Chain {
		used[l.Name] = true
	}
	for _, d := range e.files {
		if d != top && !used[d.name] {
			res.Others = append(res.Others, d.name)
		}
	}
	return jsonString(res)
}

// resolveRef finds a file an image refers to (a VHDX parent, a qcow2
// backing file or data file) among the given files by its file name,
// case-insensitively: each path the image stores, then the name.
func (e *engine) resolveRef(_ string, ref vdisk.Reference) (io.ReaderAt, int64, string, error) {
	var wanted []string
	for _, p := range append(append([]string(nil), ref.Paths...), ref.Name) {
		if w := baseName(p); w != "" && w != "." && w != "/" {
			wanted = append(wanted, w)
		}
	}
	for _, w := range wanted {
		for _, d := range e.files {
			if strings.EqualFold(d.name, w) {
				return d.reader, d.reader.Size(), d.name, nil
			}
		}
	}
	return nil, 0, "", fmt.Errorf("drop %s together with the image (it was not among the files given)", ref.Name)
}

// otherDisk returns the virtual disk of a non-VHDX image, or why there is
// none. e.mu is held.
func (e *engine) otherDisk() (*vdisk.Disk, error) {
	if e.vd == nil {
		if e.diskErr == nil {
			return nil, errors.New("no image is open")
		}
		return nil, e.diskErr
	}
	return e.vd, nil
}

// qcow2Image returns the qcow2 image shown, or an error when the image
// shown is not a qcow2. e.mu is held.
func (e *engine) qcow2Image() (*qcow2.Image, error) {
	if e.vimg != nil {
		if q, ok := e.vimg.Native().(*qcow2.Image); ok {
			return q, nil
		}
	}
	return nil, errors.New("the image shown is not a qcow2 image")
}

// showsOther reports whether the image shown is not a VHDX.
func (e *engine) showsOther() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.vimg != nil
}

// scanOther builds the kind map of the image shown (reading its L2
// tables) and resolves to its summary.
func (e *engine) scanOther() (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.kindMap(); err != nil {
		return nil, err
	}
	return jsonString(e.summary)
}

// checkOther validates a non-VHDX image and the files its disk reads
// through; args[0] may hold {signal, onProgress}, progress counting the
// bytes of the image read against its size.
func checkOther(args []js.Value, top *droppedFile, img *vdisk.Image, d *vdisk.Disk) (any, error) {
	t := newTask(jsutil.Arg(args, 0), img.Size)
	if err := t.cancelled(); err != nil {
		return nil, err
	}
	top.reader.watch(t)
	var findings []vdisk.Finding
	if d != nil {
		findings = d.Check()
	} else {
		findings = img.Check()
	}
	top.reader.watch(nil)
	if err := t.cancelled(); err != nil {
		return nil, err
	}
	t.report()
	return jsonString(checkResult{Findings: report.Tally(findings)})
}

// reportOther is the report of a non-VHDX image: its overview, its
// structures as fields and the findings of its chain.
func (e *engine) reportOther() (any, error) {
	ov, err := report.OverviewOf(e.vimg, e.vd, e.diskErr)
	if ov == nil {
		return nil, err
	}
	var findings []vdisk.Finding
	if e.vd != nil {
		findings = e.vd.Check()
	} else {
		findings = e.vimg.Check()
	}
	return jsonString(struct {
		Overview *report.Overview `json:"overview"`
		Fields   []vdisk.Field    `json:"fields"`
		report.Findings
	}{ov, e.vimg.Fields(), report.Tally(findings)})
}

func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}
