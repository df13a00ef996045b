package qcow2

import (
	"io"
	"runtime"
)

// streamChunk is the unit WriteTo reads and decompresses on one worker.
const streamChunk = 4 << 20

// WriteTo writes the whole virtual disk to w. It implements io.WriterTo
// for fast streaming: GOMAXPROCS workers read and decompress the next
// chunks while w takes the current one, through a fixed number of
// buffers.
func (d *Disk) WriteTo(w io.Writer) (int64, error) {
	chunk := int64(streamChunk)
	for _, lv := range d.levels {
		if lv.img != nil {
			chunk = max(chunk, lv.img.Header.ClusterSize())
		}
	}
	workers := runtime.GOMAXPROCS(0)
	buffers := 2 * workers
	type job struct {
		off  int64
		buf  []byte
		done chan error
	}
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, chunk)
	}
	jobs := make(chan *job)
	order := make(chan *job, buffers)
	stop := make(chan struct{})
	go func() { // hands out chunks in order, as buffers come free
		defer close(order)
		defer close(jobs)
		for off := int64(0); off < d.size; off += chunk {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			j := &job{off: off, buf: buf[:min(chunk, d.size-off)], done: make(chan error, 1)}
			order <- j
			jobs <- j
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				_, err := d.ReadAt(j.buf, j.off)
				if err == io.EOF {
					err = nil
				}
				j.done <- err
			}
		}()
	}
	var written int64
	var failed error
	for j := range order {
		err := <-j.done
		if failed == nil && err == nil {
			var n int
			n, err = w.Write(j.buf)
			written += int64(n)
		}
		if failed == nil && err != nil {
			failed = err
			close(stop)
		}
		free <- j.buf[:cap(j.buf)]
	}
	return written, failed
}
