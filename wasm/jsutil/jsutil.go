//go:build js && wasm

// Package jsutil bridges Go and JavaScript Promises without blocking the
// JavaScript event loop: Go's wasm runtime deadlocks if a js.FuncOf callback
// waits for a Promise, so work runs in goroutines.
package jsutil

import (
	"errors"
	"syscall/js"
)

// Await waits for promise p to settle. Call it only from a goroutine that
// is not running inside a js.FuncOf callback.
func Await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: Arg(args, 0)}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: Error(Arg(args, 0))}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}

// Arg returns args[i], or undefined when there are fewer arguments.
func Arg(args []js.Value, i int) js.Value {
	if i >= len(args) {
		return js.Undefined()
	}
	return args[i]
}

// Error converts a JavaScript exception or rejection value to a Go error.
func Error(v js.Value) error {
	if v.Type() == js.TypeObject && v.Get("message").Type() == js.TypeString {
		return errors.New(v.Get("message").String())
	}
	return errors.New(v.String())
}

// Promise returns a JavaScript Promise settled by fn, which runs in a new
// goroutine: its result resolves the Promise, its error rejects it with an
// Error carrying the message.
func Promise(fn func() (any, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := fn()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	defer executor.Release()
	return js.Global().Get("Promise").New(executor)
}

// Bytes copies b into a new Uint8Array.
func Bytes(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// Writer is an io.Writer over a JavaScript object whose write(Uint8Array)
// method returns a Promise, such as a FileSystemWritableFileStream: each
// Write awaits the Promise. Use it from a goroutine, never inside a
// js.FuncOf callback.
type Writer struct{ Target js.Value }

// Write implements io.Writer.
func (w Writer) Write(p []byte) (int, error) {
	if _, err := Await(w.Target.Call("write", Bytes(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Yield returns after a zero-delay timer has fired, so that the JavaScript
// event loop can deliver the messages and events waiting meanwhile. Long
// work calls it now and then; call it only from a goroutine.
func Yield() {
	ch := make(chan struct{})
	f := js.FuncOf(func(js.Value, []js.Value) any {
		close(ch)
		return nil
	})
	defer f.Release()
	js.Global().Call("setTimeout", f, 0)
	<-ch
}
