//go:build js && wasm

package jsutil

import (
	"errors"
	"syscall/js"
	"testing"
)

func TestPromiseResolvesAndAwaitReturns(t *testing.T) {
	v, err := Await(Promise(func() (any, error) { return "done", nil }))
	if err != nil || v.String() != "done" {
		t.Fatalf("Await(Promise) = %v, %v; want done", v, err)
	}
}

func TestPromiseRejectsWithMessage(t *testing.T) {
	_, err := Await(Promise(func() (any, error) { return nil, errors.New("boom: at offset 0x10000") }))
	if err == nil || err.Error() != "boom: at offset 0x10000" {
		t.Fatalf("rejection = %v, want the Go error text", err)
	}
}

func TestBytesCopies(t *testing.T) {
	a := Bytes([]byte{1, 2, 0x55, 0xaa})
	if a.Get("length").Int() != 4 || a.Index(3).Int() != 0xaa || !a.InstanceOf(js.Global().Get("Uint8Array")) {
		t.Fatalf("Bytes produced %v", a)
	}
}

func TestWriterAwaitsEachWrite(t *testing.T) {
	// A sink whose write resolves later and records lengths; the third
	// write rejects, as an aborted FileSystemWritableFileStream does.
	sink := js.Global().Get("Function").New(`
		const got = [];
		return {
			got,
			write(chunk) {
				return new Promise((resolve, reject) => setTimeout(() => {
					if (got.length === 2) { reject(new Error("aborted")); return; }
					got.push(chunk.length); resolve();
				}, 1));
			},
		};`).Invoke()
	w := Writer{Target: sink}
	for _, n := range []int{3, 5} {
		if m, err := w.Write(make([]byte, n)); m != n || err != nil {
			t.Fatalf("Write(%d) = %d, %v", n, m, err)
		}
	}
	if got := sink.Get("got"); got.Length() != 2 || got.Index(0).Int() != 3 || got.Index(1).Int() != 5 {
		t.Fatalf("sink received %v", got)
	}
	if _, err := w.Write([]byte{1}); err == nil || err.Error() != "aborted" {
		t.Fatalf("write to an aborted sink = %v", err)
	}
}
