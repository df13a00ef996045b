package vhdx

import (
	"container/heap"
	"io"
	"slices"
	"sort"
)

// patch is one range of the file as changed by log replay: either zeros or
// a 4 KiB data sector rebuilt from a log data descriptor.
type patch struct {
	start, end int64
	zero       bool
	sector     int64 // file offset the 4 KiB sector starts at (data patches)
	lead       uint64
	trail      uint32
	src        int64 // file offset of the log data sector
}

// overlay is the file as it reads after log replay, built in memory over the
// unmodified source. Patches are sorted and do not overlap.
type overlay struct {
	base     io.ReaderAt
	baseSize int64
	size     int64
	patches  []patch
}

// flatten lays the patches over each other in order, later ones winning,
// and returns the visible pieces, sorted and disjoint. It sweeps the patch
// boundaries keeping the patches that cover the current position in a heap
// ordered by patch number, so n patches cost O(n log n) in any order (a
// log holds tens of thousands of descriptors per MiB).
func flatten(list []patch) []patch {
	byStart := make([]int, len(list))
	bounds := make([]int64, 0, 2*len(list))
	for i, p := range list {
		byStart[i] = i
		bounds = append(bounds, p.start, p.end)
	}
	sort.Slice(byStart, func(a, b int) bool { return list[byStart[a]].start < list[byStart[b]].start })
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var out []patch
	covering := &patchHeap{}
	next := 0
	for j := 0; j+1 < len(bounds); j++ {
		at := bounds[j]
		for ; next < len(byStart) && list[byStart[next]].start <= at; next++ {
			heap.Push(covering, byStart[next])
		}
		for covering.Len() > 0 && list[(*covering)[0]].end <= at {
			heap.Pop(covering) // ended; buried ended patches surface later
		}
		if covering.Len() == 0 {
			continue
		}
		piece := list[(*covering)[0]]
		piece.start, piece.end = at, bounds[j+1]
		out = append(out, piece)
	}
	return out
}

// patchHeap is a max-heap of patch numbers.
type patchHeap []int

func (h patchHeap) Len() int           { return len(h) }
func (h patchHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h patchHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *patchHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *patchHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (o *overlay) ReadAt(b []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	n := len(b)
	var err error
	if off+int64(n) > o.size {
		n, err = int(o.size-off), io.EOF
	}
	b = b[:n]
	if off < o.baseSize {
		m, rerr := o.base.ReadAt(b[:min(int64(n), o.baseSize-off)], off)
		if rerr != nil && rerr != io.EOF {
			return m, rerr
		}
		clear(b[m:])
	} else {
		clear(b)
	}
	i := sort.Search(len(o.patches), func(i int) bool { return o.patches[i].end > off })
	for ; i < len(o.patches) && o.patches[i].start < off+int64(n); i++ {
		p := o.patches[i]
		lo, hi := max(p.start, off), min(p.end, off+int64(n))
		dst := b[lo-off : hi-off]
		if p.zero {
			clear(dst)
			continue
		}
		if rerr := p.fill(o.base, dst, lo-p.sector); rerr != nil {
			return 0, rerr
		}
	}
	return n, err
}

// fill writes bytes [at, at+len(dst)) of the patched sector into dst.
func (p patch) fill(base io.ReaderAt, dst []byte, at int64) error {
	var sector [logSector]byte
	le.PutUint64(sector[:], p.lead)
	le.PutUint32(sector[logSector-4:], p.trail)
	if err := readAt(base, sector[8:8+dataSectorBytes], p.src+8, "log data sector"); err != nil {
		return err
	}
	copy(dst, sector[at:])
	return nil
}

// Replay describes what replaying the log changed.
type Replay struct {
	// Entries counts the replayed log entries.
	Entries int `json:"entries"`
	// Changes lists every range written, in replay order.
	Changes []ReplayChange `json:"changes"`
	// FileSizeBefore and FileSizeAfter are the file size on disk and as seen
	// after replay (which extends it to the head entry's LastFileOffset).
	FileSizeBefore int64 `json:"file_size_before"`
	FileSizeAfter  int64 `json:"file_size_after"`
}

// ReplayChange is one range the log replay writes.
type ReplayChange struct {
	Sequence  uint64 `json:"sequence,string"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Zero      bool   `json:"zero"`
	Structure string `json:"structure"` // "BAT", "metadata", "payload" or "other"
}

// replayLog builds the overlay for the active sequence of l.
func replayLog(base io.ReaderAt, size int64, l *Log) (*overlay, *Replay) {
	o := &overlay{base: base, baseSize: size, size: size}
	rep := &Replay{FileSizeBefore: size, FileSizeAfter: size}
	var list []patch
	for _, idx := range l.Active[l.ReplayFrom:] {
		e := l.Entries[idx]
		rep.Entries++
		for _, d := range e.Descriptors {
			p := patch{start: int64(d.TargetOffset), end: int64(d.TargetOffset + d.Length)}
			if d.Signature == "zero" {
				p.zero = true
			} else {
				p.sector, p.lead, p.trail, p.src = p.start, d.LeadingBytes, d.TrailingBytes, d.DataOffset
			}
			if p.end <= p.start || p.start < 0 {
				continue
			}
			list = append(list, p)
			rep.Changes = append(rep.Changes, ReplayChange{Sequence: e.SequenceNumber, Offset: p.start, Length: p.end - p.start, Zero: p.zero})
		}
		if last := int64(e.LastFileOffset); last > o.size && last <= maxFileSize {
			o.size = last
		}
	}
	o.patches = flatten(list)
	rep.FileSizeAfter = o.size
	return o, rep
}
