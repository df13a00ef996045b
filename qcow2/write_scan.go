package qcow2

import (
	"bytes"
	"fmt"
)

// jobClusters is how many clusters one job reads.
func (l *writerLayout) jobClusters() int64 { return max(1, writerJobBytes/l.clusterSize) }

// scan is the first pass over src's data ranges: it finds the clusters
// holding a non-zero byte and, with compression, compresses each to learn
// its stored length. It fills l.runs and l.sizes.
func (l *writerLayout) scan(src Source, cs []*writerCompressor) error {
	per := l.jobClusters()
	produce := func(send func(func(*writerJob)) error) error {
		next, end := int64(0), int64(0) // the next cluster to examine; the end of the last range
		return src.DataRanges(func(off, n int64) error {
			if n <= 0 {
				return nil
			}
			if off < end || off > l.srcSize || n > l.srcSize-off {
				return fmt.Errorf("qcow2: the source's data range of %d bytes at %d is out of order or past its end (%d bytes)", n, off, l.srcSize)
			}
			end = off + n
			last := (end - 1) / l.clusterSize
			for c := max(off/l.clusterSize, next); c <= last; c = next {
				next = c + min(per, last-c+1)
				if err := send(func(j *writerJob) { j.first, j.n = c, int(next-c) }); err != nil {
					return err
				}
			}
			return nil
		})
	}
	zero := make([]byte, l.clusterSize)
	work := func(c *writerCompressor, j *writerJob) {
		if j.err = l.read(src, j); j.err != nil {
			return
		}
		j.sizes = j.sizes[:0]
		for i := range j.n {
			b := l.cluster(j, i)
			size := uint32(l.clusterSize)
			switch {
			case bytes.Equal(b, zero):
				size = 0
			case l.compress:
				if c.scratch, j.err = c.compress(c.scratch[:0], b); j.err != nil {
					return
				}
				if int64(len(c.scratch)) < l.clusterSize {
					size = uint32(len(c.scratch))
				}
			}
			j.sizes = append(j.sizes, size)
		}
	}
	consume := func(j *writerJob) error {
		for i, size := range j.sizes {
			if size == 0 {
				continue
			}
			c := j.first + int64(i)
			if k := len(l.runs) - 1; k >= 0 && l.runs[k].first+l.runs[k].count == c {
				l.runs[k].count++
			} else {
				l.runs = append(l.runs, writerRun{first: c, count: 1})
			}
			if l.compress {
				l.sizes = append(l.sizes, size)
			}
		}
		return nil
	}
	return l.parallel(cs, produce, work, consume)
}
