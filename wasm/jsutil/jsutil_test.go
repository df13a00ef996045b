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
