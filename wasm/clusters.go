//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"sort"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// clusterRuns is a run-length map of the clusters of a disk: run i covers
// clusters [start[i], start[i+1]) (the last one up to total) and counts
// towards histogram slot slot[i].
type clusterRuns struct {
	start []int64
	slot  []uint8
	total int64
}

// add makes cluster c (and those after it, up to the next add) count
// towards slot. Clusters come in increasing order.
func (r *clusterRuns) add(c int64, slot uint8) {
	if n := len(r.slot); n > 0 && r.slot[n-1] == slot {
		return
	}
	r.start = append(r.start, c)
	r.slot = append(r.slot, slot)
}

// histogram counts clusters [first, first+count) split into buckets runs,
// cluster c going to run floor((c-first)*buckets/count): element
// b*stride+s counts the clusters of run b in slot s.
func (r *clusterRuns) histogram(first, count, buckets int64, stride int) []uint32 {
	hist := make([]uint32, int(buckets)*stride)
	end := first + count
	i := sort.Search(len(r.start), func(i int) bool { return r.start[i] > first }) - 1
	for i = max(i, 0); i < len(r.start) && r.start[i] < end; i++ {
		next := r.total
		if i+1 < len(r.start) {
			next = r.start[i+1]
		}
		a, b := max(r.start[i], first), min(next, end)
		for c := a; c < b; {
			bk := (c - first) * buckets / count
			n := min(first+ceilDiv((bk+1)*count, buckets), b) - c
			hist[int(bk)*stride+int(r.slot[i])] += uint32(n)
			c += n
		}
	}
	return hist
}

// clusterMaps are the block maps of a non-VHDX image, built on first use:
// kinds by cluster kind in the image shown (its active L1 table), layers
// by the layer of the chain that supplies each cluster.
type clusterMaps struct {
	unit   int64 // bytes per cluster (rawBlockSize for a raw image)
	kinds  *clusterRuns
	layers *clusterRuns
	nLayer int // layers of the chain
}

const (
	// maxHistogram bounds the counts one histogram call returns.
	maxHistogram = 1 << 24
	// maxClusters bounds the clusters a map covers, so that bucket
	// arithmetic (cluster × buckets) stays within int64.
	maxClusters = 1 << 41
)

// kindSlots is the number of slots of a kind histogram: qcow2.ClusterKinds.
var kindSlots = len(qcow2.ClusterKinds)

// kindMap builds (once) the kind map of the image shown. e.mu is held.
func (e *engine) kindMap() (*clusterRuns, error) {
	if e.maps == nil {
		e.maps = &clusterMaps{}
	}
	m := e.maps
	if m.kinds != nil {
		return m.kinds, nil
	}
	if q, ok := e.vimg.Native().(*qcow2.Image); ok && q.Header != nil && q.Header.ClusterBits != 0 {
		m.unit = q.Header.ClusterSize()
		kinds, err := qcow2Kinds(q, ceilDiv(int64(q.Header.VirtualSize), m.unit))
		if err != nil {
			return nil, err
		}
		m.kinds = kinds
		return kinds, nil
	}
	m.unit = rawBlockSize
	m.kinds = &clusterRuns{total: ceilDiv(e.vimg.Size, m.unit)}
	m.kinds.add(0, uint8(qcow2.Normal))
	return m.kinds, nil
}

// layerMap builds (once) the layer map of the disk shown. e.mu is held.
func (e *engine) layerMap() (*clusterRuns, int, error) {
	d, err := e.otherDisk()
	if err != nil {
		return nil, 0, err
	}
	if _, err := e.kindMap(); err != nil { // sets the unit
		return nil, 0, err
	}
	m := e.maps
	m.nLayer = len(d.Layers())
	if m.layers != nil {
		return m.layers, m.nLayer, nil
	}
	layers := &clusterRuns{total: ceilDiv(d.Size(), m.unit)}
	none := uint8(m.nLayer)
	layers.add(0, none)
	err = d.Extents(func(x vdisk.Extent) error {
		slot := uint8(x.Layer)
		if x.State == qcow2.Unallocated.String() {
			slot = none
		}
		// A cluster counts towards the extent its first byte lies in.
		if c0, c1 := ceilDiv(x.Start, m.unit), ceilDiv(x.Start+x.Length, m.unit); c0 < c1 {
			layers.add(c0, slot)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	m.layers = layers
	return layers, m.nLayer, nil
}

// qcow2Kinds maps the guest clusters of q's active L1 table by kind,
// reading the L2 tables it points to (total clusters; those past the L1
// table are unallocated).
func qcow2Kinds(q *qcow2.Image, total int64) (*clusterRuns, error) {
	r := &clusterRuns{total: total}
	perTable := q.Header.L2Entries()
	var c int64
	for i := range q.L1 {
		if c >= total {
			break
		}
		n := min(perTable, total-c)
		entries, err := q.L2(i)
		if err != nil {
			return nil, err
		}
		if entries == nil {
			r.add(c, uint8(qcow2.Unallocated))
			c += n
			continue
		}
		listed := entries[:min(int64(len(entries)), n)]
		for _, x := range listed {
			r.add(c, uint8(min(x.Kind, qcow2.Invalid)))
			c++
		}
		if short := n - int64(len(listed)); short > 0 {
			r.add(c, uint8(qcow2.Unallocated))
			c += short
		}
	}
	if c < total {
		r.add(c, uint8(qcow2.Unallocated))
	}
	return r, nil
}

// otherHistogram answers blockHistogram (byLayer false: clusters by kind,
// stride len(qcow2.ClusterKinds)) and layerHistogram (stride layers+2, the
// last slot, mixed clusters, left empty: a cluster counts towards the
// layer of its first byte) for a non-VHDX image.
func (e *engine) otherHistogram(args []js.Value, byLayer bool) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	runs, err := e.kindMap()
	stride := kindSlots
	if byLayer {
		var n int
		runs, n, err = e.layerMap()
		stride = n + 2
	}
	if err != nil {
		return nil, err
	}
	first, count, buckets, err := rangeArgs(args, uint64(runs.total))
	switch {
	case err != nil:
		return nil, fmt.Errorf("histogram: %w", err)
	case buckets*uint64(stride) > maxHistogram:
		return nil, fmt.Errorf("histogram: %d buckets of %d counts is more than %d", buckets, stride, maxHistogram)
	case runs.total > maxClusters:
		return nil, fmt.Errorf("histogram: %d clusters is more than %d", runs.total, int64(maxClusters))
	}
	return uint32Array(putCounts(runs.histogram(int64(first), int64(count), int64(buckets), stride))), nil
}

// runsBelow is the span of clusters up to which layerBytes walks the disk
// at its finest grain; longer spans go by merged extents.
const runsBelow = 64 << 20

// otherLayerBytes answers layerBytes for a non-VHDX image: the bytes of
// clusters [args[0], args[0]+args[1]) each layer supplies, then the bytes
// no layer stores. e.mu is held.
func (e *engine) otherLayerBytes(args []js.Value) (any, error) {
	_, n, err := e.layerMap()
	if err != nil {
		return nil, err
	}
	if len(args) < 2 {
		return nil, errors.New("layerBytes: expected first, count")
	}
	first, count, _, err := rangeArgs([]js.Value{args[0], args[1], js.ValueOf(1)}, uint64(e.maps.layers.total))
	if err != nil {
		return nil, fmt.Errorf("layerBytes: %w", err)
	}
	start := int64(first) * e.maps.unit
	end := min(int64(first+count)*e.maps.unit, e.vd.Size())
	total := make([]int64, n+1)
	add := func(x vdisk.Extent) error {
		a, b := max(x.Start, start), min(x.Start+x.Length, end)
		if a >= b {
			return nil
		}
		if x.State == qcow2.Unallocated.String() {
			total[n] += b - a
		} else {
			total[x.Layer] += b - a
		}
		return nil
	}
	if end-start <= runsBelow {
		err = e.vd.Runs(start, end-start, add)
	} else {
		err = e.vd.Extents(add)
	}
	if err != nil {
		return nil, err
	}
	out := js.Global().Get("Float64Array").New(len(total))
	for i, v := range total {
		out.SetIndex(i, float64(v))
	}
	return out, nil
}
