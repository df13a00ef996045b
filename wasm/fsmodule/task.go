//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"syscall/js"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// errCancelled ends work whose AbortSignal fired.
var errCancelled = errors.New("cancelled")

// yieldEvery is how long work runs before it reports progress and lets
// the event loop deliver a cancel.
const yieldEvery = 100 * time.Millisecond

// task is long work the page follows and may cancel, from an options
// object that may hold signal (an AbortSignal) and onProgress(done, total).
type task struct {
	ctx        context.Context
	stop       func()
	onProgress js.Value
	last       time.Time
}

// newTask follows opts (undefined: nothing to follow). Call done when the
// work ends.
func newTask(opts js.Value) *task {
	ctx, cancel := context.WithCancelCause(context.Background())
	t := &task{ctx: ctx, onProgress: js.Undefined(), last: time.Now()}
	t.stop = func() { cancel(nil) }
	if opts.Type() != js.TypeObject {
		return t
	}
	t.onProgress = opts.Get("onProgress")
	if sig := opts.Get("signal"); sig.Type() == js.TypeObject {
		if sig.Get("aborted").Truthy() {
			cancel(errCancelled)
			return t
		}
		var f js.Func
		f = js.FuncOf(func(js.Value, []js.Value) any {
			cancel(errCancelled)
			return nil
		})
		sig.Call("addEventListener", "abort", f)
		t.stop = func() {
			sig.Call("removeEventListener", "abort", f)
			f.Release()
			cancel(nil)
		}
	}
	return t
}

// err returns errCancelled once the signal fired.
func (t *task) err() error {
	if context.Cause(t.ctx) == errCancelled {
		return errCancelled
	}
	return nil
}

// progress reports (done, total) at most every yieldEvery, letting the
// event loop run meanwhile; it returns errCancelled once cancelled.
func (t *task) progress(done, total int64) error {
	if time.Since(t.last) >= yieldEvery {
		t.last = time.Now()
		if t.onProgress.Type() == js.TypeFunction {
			t.onProgress.Invoke(float64(done), float64(total))
		}
		jsutil.Yield()
	}
	return t.err()
}

func jsonString(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
