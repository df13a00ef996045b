//go:build js && wasm

package main

import (
	"bufio"
	"errors"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// progressStep is how many bytes pass between progress reports.
const progressStep = 4 << 20

// exportVHDX writes the virtual disk shown (merged through its chain) as a
// standalone dynamic VHDX to args[0], a FileSystemWritableFileStream (or
// anything with a Promise-returning write(Uint8Array)), in order; it does
// not close it. args[1], if a function, receives (done, total) bytes as it
// goes. It resolves to the number of bytes written.
func (e *engine) exportVHDX(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Get("write").Type() != js.TypeFunction {
		return nil, errors.New("exportVHDX: expected a writable stream")
	}
	e.mu.Lock()
	disk, diskErr, img := e.disk, e.diskErr, e.img
	e.mu.Unlock()
	if disk == nil {
		if diskErr == nil {
			diskErr = errors.New("no image is open")
		}
		return nil, diskErr
	}
	var progress func(done, total int64)
	if len(args) > 1 && args[1].Type() == js.TypeFunction {
		next := int64(0)
		progress = func(done, total int64) {
			if done >= next || done == total {
				next = done + progressStep
				args[1].Invoke(float64(done), float64(total))
			}
		}
	}
	m := img.Metadata
	opt := vhdx.CreateOptions{BlockSize: m.BlockSize, LogicalSectorSize: m.LogicalSectorSize, PhysicalSectorSize: m.PhysicalSectorSize}
	w := bufio.NewWriterSize(jsutil.Writer{Target: args[0]}, progressStep)
	n, err := vhdx.WriteImage(w, disk, opt, progress)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return nil, err
	}
	return float64(n), nil
}
