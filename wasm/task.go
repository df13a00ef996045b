//go:build js && wasm

package main

import (
	"errors"
	"io"
	"sync"
	"syscall/js"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// errCancelled ends work whose AbortSignal fired.
var errCancelled = errors.New("cancelled")

// yieldEvery is how long work runs before it lets the event loop deliver a
// cancel (or another call) and reports progress.
const yieldEvery = 50 * time.Millisecond

// task is long work the page follows and may cancel. The JavaScript options
// object it comes from may hold signal (an AbortSignal) and
// onProgress(done, total).
type task struct {
	signal, onProgress js.Value

	mu          sync.Mutex
	done, total int64
	last        time.Time
	err         error // errCancelled once the signal fired
}

// newTask returns a task of total units following opts (undefined: none).
func newTask(opts js.Value, total int64) *task {
	t := &task{signal: js.Undefined(), onProgress: js.Undefined(), total: total, last: time.Now()}
	if opts.Type() == js.TypeObject {
		t.signal, t.onProgress = opts.Get("signal"), opts.Get("onProgress")
	}
	t.poll()
	return t
}

// poll records a cancel when the signal has fired.
func (t *task) poll() {
	if t.signal.Type() == js.TypeObject && t.signal.Get("aborted").Truthy() {
		t.mu.Lock()
		t.err = errCancelled
		t.mu.Unlock()
	}
}

// add records n more units done. At most every yieldEvery it reports
// progress and lets the event loop run; it returns errCancelled from the
// moment the signal is aborted.
func (t *task) add(n int64) error {
	t.mu.Lock()
	t.done += n
	due := t.err == nil && time.Since(t.last) >= yieldEvery
	if due {
		t.last = time.Now()
	}
	t.mu.Unlock()
	if due {
		t.report()
		jsutil.Yield()
		t.poll()
	}
	return t.cancelled()
}

// cancelled returns errCancelled once the signal fired, else nil.
func (t *task) cancelled() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// report calls onProgress(done, total), done capped at total.
func (t *task) report() {
	if t.onProgress.Type() != js.TypeFunction {
		return
	}
	t.mu.Lock()
	done, total := min(t.done, t.total), t.total
	t.mu.Unlock()
	t.onProgress.Invoke(float64(done), float64(total))
}

// sizedReaderAt is a file the engine reads: an io.ReaderAt that knows its size.
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

// watchedReader reads a dropped file. While a task watches it, every read
// counts towards the task, lets it yield, and fails once it is cancelled:
// work inside a format library (such as a validation) then becomes
// cancellable without the library knowing.
type watchedReader struct {
	sizedReaderAt
	mu   sync.Mutex
	task *task
}

// watch attaches t (nil detaches).
func (w *watchedReader) watch(t *task) {
	w.mu.Lock()
	w.task = t
	w.mu.Unlock()
}

// ReadAt implements io.ReaderAt.
func (w *watchedReader) ReadAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	t := w.task
	w.mu.Unlock()
	if t != nil {
		if err := t.cancelled(); err != nil {
			return 0, err
		}
	}
	n, err := w.sizedReaderAt.ReadAt(p, off)
	if t != nil {
		_ = t.add(int64(n)) // a cancel fails the next read
	}
	return n, err
}
