package qcow2

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// writerJobBytes is about how much of the source one job reads: enough to
// make a ReadAt call and a hand-over cheap next to the work on the bytes.
const writerJobBytes = 1 << 20

// writerJob is a run of consecutive guest clusters that one worker reads
// and examines or compresses, and that the writer then takes in order.
type writerJob struct {
	first int64    // first guest cluster
	index int64    // second pass: the index of the first cluster among the stored ones
	n     int      // clusters
	plan  []uint32 // second pass: the planned stored length of each cluster, or nil when all are plain
	data  []byte   // the clusters' bytes
	sizes []uint32 // first pass: each cluster's stored length, 0 for a zero cluster
	out   []byte   // second pass: the compressed clusters, one after the other
	err   error
	done  chan struct{}
}

// errWriterStopped tells a producer that the consumer gave up.
var errWriterStopped = errors.New("qcow2: writing stopped")

// parallel runs jobs through one worker per compressor and hands them to
// consume in the order produce made them. produce calls send for each job,
// which fill describes (first, n, and in the second pass index and plan);
// send fails once consume has failed. At most about two jobs per worker are in flight, which bounds
// memory.
func (l *writerLayout) parallel(cs []*writerCompressor, produce func(send func(fill func(*writerJob)) error) error, work func(*writerCompressor, *writerJob), consume func(*writerJob) error) error {
	window := 2*len(cs) + 2
	perJob := max(l.clusterSize, writerJobBytes)
	free := make(chan *writerJob, window)
	for range window {
		free <- &writerJob{data: make([]byte, perJob)}
	}
	todo := make(chan *writerJob, window)
	inOrder := make(chan *writerJob, window)
	stop := make(chan struct{})

	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range todo {
				work(c, j)
				close(j.done)
			}
		}()
	}
	produced := make(chan error, 1)
	go func() {
		err := produce(func(fill func(*writerJob)) error {
			select {
			case <-stop:
				return errWriterStopped
			default:
			}
			var j *writerJob
			select {
			case j = <-free:
			case <-stop:
				return errWriterStopped
			}
			j.index, j.plan, j.err, j.done = 0, nil, nil, make(chan struct{})
			fill(j)
			// Never blocks: at most window jobs exist.
			todo <- j
			inOrder <- j
			return nil
		})
		close(todo)
		close(inOrder)
		produced <- err
	}()

	var err error
	for j := range inOrder {
		<-j.done
		if err == nil {
			if err = j.err; err == nil {
				err = consume(j)
			}
			if err != nil {
				close(stop)
			}
		}
		free <- j
	}
	wg.Wait()
	if perr := <-produced; err == nil {
		err = perr
	}
	return err
}

// read reads guest clusters [j.first, j.first+j.n) of src into
// j.data; bytes past the source's end read as zeros.
func (l *writerLayout) read(src Source, j *writerJob) error {
	start := j.first * l.clusterSize
	b := j.data[:int64(j.n)*l.clusterSize]
	n := max(0, min(int64(len(b)), l.srcSize-start))
	if got, err := src.ReadAt(b[:n], start); err != nil && !(err == io.EOF && int64(got) == n) {
		return fmt.Errorf("qcow2: reading the source at %d: %w", start, err)
	}
	clear(b[n:])
	return nil
}
