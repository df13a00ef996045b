package qcow2

import "fmt"

// walk emits the extents of [off, off+n) as level k supplies them,
// descending to the backing file where k leaves them unallocated.
func (d *Disk) walk(k int, off, n int64, emit func(Extent) error) error {
	if k >= len(d.levels) {
		// Below the base: zeros, decided by the base.
		return emit(Extent{Start: off, Length: n, Kind: Unallocated, Layer: d.levels[len(d.levels)-1].layer})
	}
	lv := &d.levels[k]
	end := off + n
	if end > lv.size {
		// A backing file smaller than its child reads as zeros past its end.
		if off >= lv.size {
			return emit(Extent{Start: off, Length: n, Kind: Unallocated, Layer: lv.layer})
		}
		if err := d.walk(k, off, lv.size-off, emit); err != nil {
			return err
		}
		return emit(Extent{Start: lv.size, Length: end - lv.size, Kind: Unallocated, Layer: lv.layer})
	}
	if lv.img == nil {
		return emit(Extent{Start: off, Length: n, Kind: Normal, FileOffset: off, Layer: lv.dataLayer})
	}
	img := lv.img
	cs := img.Header.ClusterSize()
	span := cs * img.Header.L2Entries() // bytes one L1 entry covers
	for off < end {
		c := off / cs
		in := off % cs
		seg := min(end-off, cs-in)
		e, at, err := img.l2Lookup(lv.l1, uint64(c))
		if err != nil {
			return err
		}
		if at == 0 {
			// No L2 table: the whole range of the L1 entry is unallocated.
			seg = min(end, (off/span+1)*span) - off
			if err := d.emitKind(k, e, Unallocated, off, seg, emit); err != nil {
				return err
			}
			off += seg
			continue
		}
		kind := img.clusterKind(e)
		if img.Header.ExtendedL2() && kind != Compressed {
			err = d.walkSubclusters(k, e, kind, off, seg, emit)
		} else {
			err = d.emitKind(k, e, kind, off, seg, emit)
		}
		if err != nil {
			return err
		}
		off += seg
	}
	return nil
}

// walkSubclusters splits [off, off+n), inside one cluster of level k with
// extended L2 entry e, into runs of subclusters of one kind.
func (d *Disk) walkSubclusters(k int, e l2Entry, kind ClusterKind, off, n int64, emit func(Extent) error) error {
	img := d.levels[k].img
	cs := img.Header.ClusterSize()
	sub := cs / 32
	for end := off + n; off < end; {
		sk := subclusterKind(kind, e.bitmap, uint(off%cs/sub))
		run := (off/sub + 1) * sub // end of off's subcluster
		for run < end && subclusterKind(kind, e.bitmap, uint(run%cs/sub)) == sk {
			run += sub
		}
		run = min(run, end)
		if err := d.emitKind(k, e, sk, off, run-off, emit); err != nil {
			return err
		}
		off = run
	}
	return nil
}

// emitKind emits [off, off+n), inside one cluster of level k whose entry
// is e, as kind says.
func (d *Disk) emitKind(k int, e l2Entry, kind ClusterKind, off, n int64, emit func(Extent) error) error {
	lv := &d.levels[k]
	img := lv.img
	cs := img.Header.ClusterSize()
	host := int64(e.raw & tableOffsetMask)
	where := func() string { return fmt.Sprintf("L2 entry of guest cluster %d", off/cs) }
	switch kind {
	case Unallocated:
		return d.walk(k+1, off, n, emit)
	case Zero, ZeroAllocated:
		x := Extent{Start: off, Length: n, Kind: kind, Layer: lv.layer}
		if kind == ZeroAllocated {
			x.FileOffset = host + off%cs
		}
		return emit(x)
	case Normal:
		if host%cs != 0 {
			return formatErr(ErrCorrupt, where(), -1, "data cluster offset %#x is not cluster aligned", host)
		}
		return emit(Extent{Start: off, Length: n, Kind: Normal, FileOffset: host + off%cs, Layer: lv.dataLayer})
	case Compressed:
		if img.Header.ExternalData() {
			return formatErr(ErrCorrupt, where(), -1, "a compressed cluster in an image with an external data file")
		}
		coff, clen := img.compressedDescriptor(e.raw)
		return emit(Extent{Start: off, Length: n, Kind: Compressed, FileOffset: coff, Layer: lv.layer, clen: clen, cpos: off % cs})
	}
	return formatErr(ErrCorrupt, where(), -1, "invalid entry %#x (subcluster bitmap %#x)", e.raw, e.bitmap)
}
