//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// bat returns the open image's BAT or an error saying why there is none.
func (e *engine) bat() (*vhdx.BAT, error) {
	img, err := e.current()
	if err != nil {
		return nil, err
	}
	if img.BAT == nil {
		return nil, fmt.Errorf("the block allocation table cannot be read: %v", e.diskErr)
	}
	return img.BAT, nil
}

// rangeArgs validates (first, count, buckets) over n blocks.
func rangeArgs(args []js.Value, n uint64) (first, count, buckets uint64, err error) {
	if len(args) < 3 {
		return 0, 0, 0, errors.New("expected first, count, buckets")
	}
	first, count, buckets = uint64(args[0].Float()), uint64(args[1].Float()), uint64(args[2].Float())
	if count == 0 || buckets == 0 || buckets > 1<<22 || first >= n || count > n-first {
		return 0, 0, 0, fmt.Errorf("range %d+%d in %d buckets does not fit %d blocks", first, count, buckets, n)
	}
	return first, count, buckets, nil
}

// blockHistogram counts block states from the block summary: blocks the
// scan has not reached yet are left out of the counts.
func (e *engine) blockHistogram(args []js.Value) (any, error) {
	if e.showsOther() {
		return e.otherHistogram(args, false)
	}
	e.mu.Lock()
	sum := e.blocks
	_, err := e.bat()
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	first, count, buckets, err := rangeArgs(args, sum.bat.BlockCount)
	if err != nil {
		return nil, fmt.Errorf("blockHistogram: %w", err)
	}
	return uint32Array(putCounts(sum.histogram(first, count, buckets))), nil
}

// uint32Array turns little-endian uint32 bytes into a Uint32Array.
func uint32Array(b []byte) js.Value {
	return js.Global().Get("Uint32Array").New(jsutil.Bytes(b).Get("buffer"))
}

// putCounts encodes counts as little-endian uint32 bytes.
func putCounts(counts []uint32) []byte {
	out := make([]byte, 4*len(counts))
	for i, c := range counts {
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	}
	return out
}

// layerHistogram classifies blocks [first, first+count) of the image
// shown, in buckets equal runs, by the layers of the chain that supply
// their bytes: element b*(L+2)+l counts blocks of run b read wholly from
// layer l, element b*(L+2)+L those no layer stores (zeros), and element
// b*(L+2)+L+1 the mixed blocks, whose sectors come from several.
func (e *engine) layerHistogram(args []js.Value) (any, error) {
	if e.showsOther() {
		return e.otherHistogram(args, true)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.disk == nil {
		return nil, fmt.Errorf("layerHistogram: %v", e.diskErr)
	}
	first, count, buckets, err := e.layerRange(args)
	if err != nil {
		return nil, fmt.Errorf("layerHistogram: %w", err)
	}
	bs := int64(e.img.Metadata.BlockSize)
	compute := func() ([]byte, error) {
		counts, _, err := layerCounts(e.disk, bs, first, count, buckets)
		return putCounts(counts), err
	}
	var b []byte
	if n := uint64((e.disk.Size() + bs - 1) / bs); first == 0 && count == n && buckets <= maxCachedBuckets {
		// The counts depend on every layer: key them by each one's data.
		key := fmt.Sprintf("layers/%d", buckets)
		for _, l := range e.disk.Layers() {
			key += "/" + l.Image.CurrentHeader().DataWriteGUID.String()
		}
		b, _, err = e.cached(e.key, key, compute)
	} else {
		b, err = compute()
	}
	if err != nil {
		return nil, err
	}
	return uint32Array(b), nil
}

// layerBytes returns a Float64Array of L+1 values: how many bytes of
// blocks [first, first+count) each layer of the chain supplies, the last
// value counting the bytes no layer stores (they read as zeros).
func (e *engine) layerBytes(args []js.Value) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vimg != nil {
		return e.otherLayerBytes(args)
	}
	if e.disk == nil {
		return nil, fmt.Errorf("layerBytes: %v", e.diskErr)
	}
	if len(args) < 2 {
		return nil, errors.New("layerBytes: expected first, count")
	}
	first, count, _, err := e.layerRange([]js.Value{args[0], args[1], js.ValueOf(1)})
	if err != nil {
		return nil, fmt.Errorf("layerBytes: %w", err)
	}
	_, bytes, err := layerCounts(e.disk, int64(e.img.Metadata.BlockSize), first, count, 1)
	if err != nil {
		return nil, err
	}
	out := js.Global().Get("Float64Array").New(len(bytes))
	for i, v := range bytes {
		out.SetIndex(i, float64(v))
	}
	return out, nil
}

// layerRange validates (first, count, buckets) over the blocks of the
// chain's disk. e.mu must be held.
func (e *engine) layerRange(args []js.Value) (first, count, buckets uint64, err error) {
	bs := int64(e.img.Metadata.BlockSize)
	return rangeArgs(args, uint64((e.disk.Size()+bs-1)/bs))
}

// layerCounts classifies blocks [first, first+count) by the layers that
// supply them (see layerHistogram) and adds up the bytes per layer, the
// last element counting bytes that read as zeros.
func layerCounts(d *vhdx.Disk, bs int64, first, count, buckets uint64) ([]uint32, []int64, error) {
	L := uint64(len(d.Layers()))
	counts := make([]uint32, buckets*(L+2))
	total := make([]int64, L+1)
	block := make([]int64, L+1)
	for b := first; b < first+count; b++ {
		clear(block)
		start := int64(b) * bs
		err := d.Runs(start, min(bs, d.Size()-start), func(x vhdx.Extent) error {
			l := L
			if x.State == vhdx.FullyPresent || x.State == vhdx.PartiallyPresent {
				l = uint64(x.Layer)
			}
			block[l] += x.Length
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		slot, layers := L+1, 0
		for l, n := range block {
			total[l] += n
			if n > 0 {
				slot, layers = uint64(l), layers+1
			}
		}
		if layers > 1 {
			slot = L + 1
		}
		counts[(b-first)*buckets/count*(L+2)+slot]++
	}
	return counts, total, nil
}

type blockInfo struct {
	Block          uint64 `json:"block"`
	State          string `json:"state"`
	FileOffset     int64  `json:"file_offset"`
	VirtualOffset  int64  `json:"virtual_offset"`
	VirtualLength  int64  `json:"virtual_length"`
	BATIndex       uint64 `json:"bat_index"`
	BATEntryOffset int64  `json:"bat_entry_offset"`
	Raw            string `json:"raw"`
}

func (e *engine) block(args []js.Value) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("block: expected a block number")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vimg != nil {
		return e.otherBlock(int64(args[0].Float()))
	}
	bat, err := e.bat()
	if err != nil {
		return nil, err
	}
	n := uint64(args[0].Float())
	if n >= bat.BlockCount {
		return nil, fmt.Errorf("block %d out of range (%d blocks)", n, bat.BlockCount)
	}
	be, err := bat.Block(n)
	if err != nil {
		return nil, err
	}
	bs := int64(e.img.Metadata.BlockSize)
	start := int64(n) * bs
	return jsonString(blockInfo{Block: n, State: be.State.String(), FileOffset: be.FileOffset, VirtualOffset: start,
		VirtualLength: min(bs, int64(e.img.Metadata.VirtualSize)-start), BATIndex: be.Index, BATEntryOffset: be.Offset, Raw: fmt.Sprint(be.Raw)})
}

type owner struct {
	Block      uint64 `json:"block"`
	State      string `json:"state"`
	FileOffset int64  `json:"file_offset"` // in the supplying layer's file; -1 for zeros
	Layer      int    `json:"layer"`       // index in the chain, 0 = the image shown
	LayerName  string `json:"layer_name"`
}

// sectorOwner says which block, layer and file offset supply the virtual
// byte at offset.
func (e *engine) sectorOwner(args []js.Value) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("sectorOwner: expected an offset")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vimg != nil {
		return e.otherOwner(int64(args[0].Float()))
	}
	if e.disk == nil {
		return nil, fmt.Errorf("sectorOwner: %v", e.diskErr)
	}
	off := int64(args[0].Float())
	if off < 0 || off >= e.disk.Size() {
		return nil, fmt.Errorf("offset %d is outside the %d-byte disk", off, e.disk.Size())
	}
	o := owner{Block: uint64(off / int64(e.img.Metadata.BlockSize)), FileOffset: -1}
	err := e.disk.Runs(off, 1, func(x vhdx.Extent) error {
		o.State, o.Layer, o.LayerName = x.State.String(), x.Layer, e.disk.Layers()[x.Layer].Name
		if x.State == vhdx.FullyPresent || x.State == vhdx.PartiallyPresent {
			o.FileOffset = x.FileOffset
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jsonString(o)
}
