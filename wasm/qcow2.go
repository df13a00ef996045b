//go:build js && wasm

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// maxTableEntries bounds the entries one l2 or refcountBlock call returns.
const maxTableEntries = 4096

// pageArgs reads (index, start, count) with count at most maxTableEntries
// (0 or absent: that many).
func pageArgs(args []js.Value) (index, start, count int64, err error) {
	if len(args) < 1 || args[0].Type() != js.TypeNumber {
		return 0, 0, 0, errors.New("expected a table index")
	}
	index, count = int64(args[0].Float()), maxTableEntries
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		start = int64(args[1].Float())
	}
	if len(args) > 2 && args[2].Type() == js.TypeNumber && args[2].Float() > 0 {
		count = min(int64(args[2].Float()), maxTableEntries)
	}
	if index < 0 || start < 0 {
		return 0, 0, 0, errors.New("index and start must not be negative")
	}
	return index, start, count, nil
}

// tablePage is a part of an L2 table or refcount block.
type tablePage struct {
	Index   int64 `json:"index"`   // L1 or refcount table entry
	Offset  int64 `json:"offset"`  // file offset of the table, 0 when unallocated
	Entries int64 `json:"entries"` // entries in the whole table
	Start   int64 `json:"start"`   // first entry listed
	// L2 lists L2 entries [Start, Start+len) (l2 only).
	L2 []qcow2.L2Entry `json:"l2,omitempty"`
	// Refcounts lists refcounts [Start, Start+len) (refcountBlock only);
	// entry i is the refcount of host cluster Index*Entries+i.
	Refcounts []uint64 `json:"refcounts,omitempty"`
}

// l2 reads the L2 table L1 entry args[0] points to: entries
// [args[1], args[1]+args[2]), at most maxTableEntries.
func (e *engine) l2(args []js.Value) (any, error) {
	index, start, count, err := pageArgs(args)
	if err != nil {
		return nil, fmt.Errorf("l2: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.qcow2Image()
	if err != nil {
		return nil, err
	}
	if index >= int64(len(q.L1)) {
		return nil, fmt.Errorf("l2: L1 entry %d out of range (%d entries)", index, len(q.L1))
	}
	entries, err := q.L2(int(index))
	if err != nil {
		return nil, err
	}
	p := tablePage{Index: index, Offset: int64(q.L1[index] & l1OffsetMask), Entries: q.Header.L2Entries(), Start: start}
	if entries == nil {
		p.Offset = 0
	}
	if start < int64(len(entries)) {
		p.L2 = entries[start:min(start+count, int64(len(entries)))]
	}
	return jsonString(p)
}

// l1OffsetMask keeps the offset bits of an L1 or refcount table entry.
const l1OffsetMask = 0x00fffffffffffe00

// refcountBlock reads the refcount block refcount table entry args[0]
// points to: refcounts [args[1], args[1]+args[2]), at most maxTableEntries.
func (e *engine) refcountBlock(args []js.Value) (any, error) {
	index, start, count, err := pageArgs(args)
	if err != nil {
		return nil, fmt.Errorf("refcountBlock: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.qcow2Image()
	if err != nil {
		return nil, err
	}
	if index >= int64(len(q.RefcountTable)) {
		return nil, fmt.Errorf("refcountBlock: refcount table entry %d out of range (%d entries)", index, len(q.RefcountTable))
	}
	bits := int64(q.Header.RefcountBits())
	cluster := q.Header.ClusterSize()
	p := tablePage{Index: index, Offset: int64(q.RefcountTable[index] & l1OffsetMask), Entries: cluster * 8 / bits, Start: start}
	if p.Offset == 0 || start >= p.Entries {
		return jsonString(p)
	}
	n := min(count, p.Entries-start)
	// Entries [start, start+n) lie in whole bytes from here on, or share one.
	first, last := start*bits/8, ((start+n)*bits+7)/8
	buf := make([]byte, last-first)
	if got, err := q.ReadFile(buf, p.Offset+first); err != nil || int64(got) < int64(len(buf)) {
		return nil, fmt.Errorf("refcount block %d at %#x: only %d of %d bytes read: %v", index, p.Offset, got, len(buf), err)
	}
	p.Refcounts = make([]uint64, n)
	for i := range p.Refcounts {
		p.Refcounts[i] = refcountAt(buf, (start+int64(i))*bits-first*8, bits)
	}
	return jsonString(p)
}

// refcountAt decodes the bits-wide big-endian refcount at bit bit of b
// (sub-byte refcounts are packed from the least significant bit).
func refcountAt(b []byte, bit, bits int64) uint64 {
	switch bits {
	case 8:
		return uint64(b[bit/8])
	case 16:
		return uint64(binary.BigEndian.Uint16(b[bit/8:]))
	case 32:
		return uint64(binary.BigEndian.Uint32(b[bit/8:]))
	case 64:
		return binary.BigEndian.Uint64(b[bit/8:])
	}
	return uint64(b[bit/8]>>(bit%8)) & (1<<bits - 1)
}

// selectSnapshot reads the disk of the qcow2 internal snapshot args[0] (its ID or
// name; "" for the current disk) and resolves to what open does.
func (e *engine) selectSnapshot(args []js.Value) (any, error) {
	name := ""
	if len(args) > 0 && args[0].Type() == js.TypeString {
		name = args[0].String()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.qcow2Image()
	if err != nil {
		return nil, err
	}
	if _, ok := q.Snapshot(name); name != "" && !ok {
		return nil, fmt.Errorf("%w: %q", qcow2.ErrSnapshotNotFound, name)
	}
	return e.openOther(name)
}

// otherBlock describes cluster n of a non-VHDX image for block(n).
func (e *engine) otherBlock(n int64) (any, error) {
	kinds, err := e.kindMap()
	if err != nil {
		return nil, err
	}
	if n < 0 || n >= kinds.total {
		return nil, fmt.Errorf("block %d out of range (%d blocks)", n, kinds.total)
	}
	unit := e.maps.unit
	size := e.vimg.Size
	if e.vd != nil {
		size = e.vd.Size()
	}
	out := clusterInfo{Block: n, State: "data", FileOffset: n * unit, VirtualOffset: n * unit, VirtualLength: min(unit, size-n*unit), L1Index: -1, L2EntryOffset: -1}
	q, ok := e.vimg.Native().(*qcow2.Image)
	if !ok {
		return jsonString(out)
	}
	per := q.Header.L2Entries()
	out.L1Index, out.State, out.FileOffset = n/per, qcow2.Unallocated.String(), -1
	if out.L1Index >= int64(len(q.L1)) {
		return jsonString(out)
	}
	entries, err := q.L2(int(out.L1Index))
	if err != nil {
		return nil, err
	}
	if i := n % per; i < int64(len(entries)) {
		x := entries[i]
		out.State, out.L2EntryOffset, out.Raw = x.Kind.String(), x.Offset, fmt.Sprint(x.Raw)
		if x.Kind == qcow2.Normal || x.Kind == qcow2.Compressed || x.Kind == qcow2.ZeroAllocated {
			out.FileOffset = x.HostOffset
		}
	}
	return jsonString(out)
}

// clusterInfo is block(n) for a non-VHDX image: a cluster (qcow2) or a
// block of rawBlockSize bytes (raw).
type clusterInfo struct {
	Block         int64  `json:"block"`
	State         string `json:"state"`       // cluster kind; "data" for raw
	FileOffset    int64  `json:"file_offset"` // host offset, -1 for none
	VirtualOffset int64  `json:"virtual_offset"`
	VirtualLength int64  `json:"virtual_length"`
	L1Index       int64  `json:"l1_index"`        // -1 for raw
	L2EntryOffset int64  `json:"l2_entry_offset"` // -1 when none
	Raw           string `json:"raw,omitempty"`   // the L2 entry
}

// otherOwner says which layer supplies the virtual byte at off.
func (e *engine) otherOwner(off int64) (any, error) {
	d, err := e.otherDisk()
	if err != nil {
		return nil, fmt.Errorf("sectorOwner: %w", err)
	}
	if off < 0 || off >= d.Size() {
		return nil, fmt.Errorf("offset %d is outside the %d-byte disk", off, d.Size())
	}
	if _, err := e.kindMap(); err != nil {
		return nil, err
	}
	o := owner{Block: uint64(off / e.maps.unit), FileOffset: -1}
	err = d.Runs(off, 1, func(x vdisk.Extent) error {
		o.State, o.Layer, o.LayerName = x.State, x.Layer, d.Layers()[x.Layer].Name
		if x.Stored {
			o.FileOffset = x.FileOffset
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jsonString(o)
}
