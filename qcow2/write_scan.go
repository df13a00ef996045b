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
		j.sizes, j.out = j.sizes[:0], j.out[:0]
		for i := range j.n {
			b := l.cluster(j, i)
			size := uint32(l.clusterSize)
			switch {
			case bytes.Equal(b, zero):
				size = 0
			case l.compress:
				before := len(j.out)
				if j.out, j.err = c.compress(j.out, b); j.err != nil {
					return
				}
				if got := int64(len(j.out) - before); got < l.clusterSize {
					size = uint32(got)
				} else {
					j.out = j.out[:before]
				}
			}
			j.sizes = append(j.sizes, size)
		}
	}
	consume := func(j *writerJob) error {
		out := j.out
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
				var data []byte
				if int64(size) < l.clusterSize {
					data, out = out[:size], out[size:]
				}
				l.keep(data)
				l.sizes = append(l.sizes, size)
			}
		}
		return nil
	}
	return l.parallel(cs, produce, work, consume)
}

// writerCacheBytes bounds the compressed clusters the first pass keeps for
// the second, which then need not compress them again. Tests lower it.
var writerCacheBytes = 64 << 20

// keep is called with each stored cluster's compressed bytes in order
// (none for a plain cluster) before its length joins l.sizes: while they
// fit in writerCacheBytes they join l.cache, and l.cached counts the
// stored clusters covered.
func (l *writerLayout) keep(data []byte) {
	if l.cached != int64(len(l.sizes)) || len(l.cache)+len(data) > writerCacheBytes {
		return
	}
	if need := len(l.cache) + len(data); need > cap(l.cache) {
		l.cache = append(make([]byte, 0, min(writerCacheBytes, max(need, 2*cap(l.cache)))), l.cache...)
	}
	l.cache = append(l.cache, data...)
	l.cached++
}
