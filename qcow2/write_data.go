package qcow2

import "fmt"

// writeData is the second pass: it reads the stored clusters again,
// compresses those the first pass found compressible and did not keep in
// l.cache, and writes them where the placer puts them, then pads the file
// to a whole cluster.
func (l *writerLayout) writeData(s *writerStream, src Source, cs []*writerCompressor) error {
	per := l.jobClusters()
	produce := func(send func(func(*writerJob)) error) error {
		i := int64(0) // index in l.sizes
		for _, r := range l.runs {
			for c := r.first; c < r.first+r.count; {
				first, k := c, min(per, r.first+r.count-c)
				var plan []uint32
				if l.sizes != nil {
					plan = l.sizes[i : i+k]
				}
				index := i
				if err := send(func(j *writerJob) { j.first, j.index, j.n, j.plan = first, index, int(k), plan }); err != nil {
					return err
				}
				c += k
				i += k
			}
		}
		return nil
	}
	work := func(c *writerCompressor, j *writerJob) {
		if l.needsRead(j) {
			if j.err = l.read(src, j); j.err != nil {
				return
			}
		}
		j.out = j.out[:0]
		for i, size := range j.plan {
			if int64(size) == l.clusterSize || j.index+int64(i) < l.cached {
				continue
			}
			before := len(j.out)
			if j.out, j.err = c.compress(j.out, l.cluster(j, i)); j.err != nil {
				return
			}
			if got := len(j.out) - before; got != int(size) {
				j.err = fmt.Errorf("qcow2: guest cluster %d compressed to %d bytes, not the %d of the first pass: the source changed while it was written",
					j.first+int64(i), got, size)
				return
			}
		}
	}
	p := newWriterPlacer(l.clusterSize)
	cache := l.cache
	consume := func(j *writerJob) error {
		out := j.out
		for i := range j.n {
			size := l.clusterSize
			if j.plan != nil {
				size = int64(j.plan[i])
			}
			s.zeros(l.dataOffset + p.place(size) - s.pos)
			switch {
			case size == l.clusterSize:
				s.write(l.cluster(j, i))
			case j.index+int64(i) < l.cached:
				s.write(cache[:size])
				cache = cache[size:]
			default:
				s.write(out[:size])
				out = out[size:]
			}
		}
		return s.err
	}
	if err := l.parallel(cs, produce, work, consume); err != nil {
		return err
	}
	s.zeros(l.fileSize - s.pos)
	return s.err
}

// needsRead reports whether the second pass must read a job's clusters:
// unless all are compressed ones the cache holds.
func (l *writerLayout) needsRead(j *writerJob) bool {
	for i, size := range j.plan {
		if int64(size) == l.clusterSize || j.index+int64(i) >= l.cached {
			return true
		}
	}
	return j.plan == nil
}

// cluster returns the bytes of a job's i-th cluster.
func (l *writerLayout) cluster(j *writerJob, i int) []byte {
	return j.data[int64(i)*l.clusterSize : int64(i+1)*l.clusterSize]
}
