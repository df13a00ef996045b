//go:build js && wasm

package main

import (
	"bufio"
	"errors"
	"io"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
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
	return e.export("exportVHDX", args, func(w io.Writer, src vhdx.Source, progress func(done, total int64)) (int64, error) {
		var opt vhdx.CreateOptions
		if e.img != nil && e.img.Metadata != nil {
			m := e.img.Metadata
			opt = vhdx.CreateOptions{BlockSize: m.BlockSize, LogicalSectorSize: m.LogicalSectorSize, PhysicalSectorSize: m.PhysicalSectorSize}
		}
		return vhdx.WriteImage(w, src, opt, progress)
	})
}

// exportQCOW2 writes the virtual disk shown (merged through its chain) as
// a standalone qcow2 image, as exportVHDX does; args[2] may hold
// {compress: "zlib" | "zstd"} to store clusters compressed.
func (e *engine) exportQCOW2(args []js.Value) (any, error) {
	var opt qcow2.WriteOptions
	if o := jsutil.Arg(args, 2); o.Type() == js.TypeObject && o.Get("compress").Type() == js.TypeString {
		switch o.Get("compress").String() {
		case "zlib":
			opt.Compress = true
		case "zstd":
			opt.Compress, opt.CompressionType = true, qcow2.CompressionZstd
		default:
			return nil, errors.New(`exportQCOW2: compress must be "zlib" or "zstd"`)
		}
	}
	return e.export("exportQCOW2", args, func(w io.Writer, src vhdx.Source, progress func(done, total int64)) (int64, error) {
		if q, err := e.qcow2Image(); err == nil && q.Header != nil {
			opt.ClusterSize = int(q.Header.ClusterSize())
		}
		return qcow2.WriteImage(w, src, opt, progress)
	})
}

// export streams the disk shown through write into args[0], reporting
// progress to args[1].
func (e *engine) export(method string, args []js.Value, write func(io.Writer, vhdx.Source, func(done, total int64)) (int64, error)) (any, error) {
	if len(args) < 1 || args[0].Get("write").Type() != js.TypeFunction {
		return nil, errors.New(method + ": expected a writable stream")
	}
	e.mu.Lock()
	var src vhdx.Source
	var err error
	switch {
	case e.vimg != nil:
		src, err = e.otherDisk()
	case e.disk != nil:
		src = e.disk
	case e.diskErr != nil:
		err = e.diskErr
	default:
		err = errors.New("no image is open")
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
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
	w := bufio.NewWriterSize(jsutil.Writer{Target: args[0]}, progressStep)
	n, err := write(w, src, progress)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return nil, err
	}
	return float64(n), nil
}
