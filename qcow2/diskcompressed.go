package qcow2

import "sync"

// readCompressed fills dst with the part of compressed extent e.
func (d *Disk) readCompressed(e Extent, dst []byte) error {
	lv := d.levelOf(e.Layer)
	img := lv.img
	cs := img.Header.ClusterSize()
	if e.cpos == 0 && e.Length == cs {
		return d.inflate(lv, e, dst)
	}
	d.mu.Lock()
	for _, c := range d.recent {
		if c.layer == e.Layer && c.off == e.FileOffset {
			copy(dst, c.b[e.cpos:])
			d.mu.Unlock()
			return nil
		}
	}
	d.mu.Unlock()
	b := make([]byte, cs)
	if err := d.inflate(lv, e, b); err != nil {
		return err
	}
	copy(dst, b[e.cpos:])
	d.mu.Lock()
	if len(d.recent) >= recentClusters {
		d.recent = d.recent[1:]
	}
	d.recent = append(d.recent, decoded{layer: e.Layer, off: e.FileOffset, b: b})
	d.mu.Unlock()
	return nil
}

// inflate decompresses the whole cluster of e into dst.
func (d *Disk) inflate(lv *level, e Extent, dst []byte) error {
	b := compressedBatch{d: d}
	if err := b.add(e, dst); err != nil {
		return err
	}
	return b.flush()
}

// compressedBatch gathers whole compressed clusters stored near each
// other in one file, to read their data with one call.
type compressedBatch struct {
	d     *Disk
	img   *Image
	ext   []Extent
	dst   [][]byte
	start int64 // file offset of the first cluster's data
	end   int64 // end of the last cluster's data (within the file)
	sum   int64 // stored bytes of the clusters
}

// maxBatchSpan bounds the bytes one batch reads.
const maxBatchSpan = 8 << 20

// add adds compressed extent e, whose cluster fills dst.
func (b *compressedBatch) add(e Extent, dst []byte) error {
	img := b.d.levelOf(e.Layer).img
	if e.FileOffset >= img.Size {
		return formatErr(ErrTruncated, "compressed cluster", e.FileOffset, "the data starts past the end of the file")
	}
	// The stored length may run past the end of the file: read what is there.
	end := e.FileOffset + min(e.clen, img.Size-e.FileOffset)
	if len(b.ext) > 0 {
		lo, hi := min(b.start, e.FileOffset), max(b.end, end)
		if img != b.img || hi-lo > maxBatchSpan || hi-lo > 2*(b.sum+end-e.FileOffset) {
			if err := b.flush(); err != nil {
				return err
			}
		}
	}
	if len(b.ext) == 0 {
		b.img, b.start, b.end = img, e.FileOffset, end
	}
	b.start, b.end = min(b.start, e.FileOffset), max(b.end, end)
	b.sum += end - e.FileOffset
	b.ext = append(b.ext, e)
	b.dst = append(b.dst, dst)
	return nil
}

// flush reads and decompresses the clusters gathered.
func (b *compressedBatch) flush() error {
	if len(b.ext) == 0 {
		return nil
	}
	defer func() { b.ext, b.dst, b.sum = b.ext[:0], b.dst[:0], 0 }()
	n := b.end - b.start
	bp, _ := compressedBufs.Get().(*[]byte)
	if bp == nil || int64(cap(*bp)) < n {
		buf := make([]byte, n)
		bp = &buf
	}
	defer compressedBufs.Put(bp)
	src := (*bp)[:n]
	if err := readFull(b.img.r, src, b.start, "compressed clusters"); err != nil {
		return err
	}
	for i, e := range b.ext {
		data := src[e.FileOffset-b.start : min(e.FileOffset+e.clen, b.end)-b.start]
		if err := b.img.decompressCluster(b.dst[i], data); err != nil {
			return formatErr(ErrCorrupt, "compressed cluster", e.FileOffset, "cannot decompress: %v", err)
		}
	}
	return nil
}

// compressedBufs holds buffers for compressed data read from the file.
var compressedBufs sync.Pool // of *[]byte
