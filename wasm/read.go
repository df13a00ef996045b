//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"io"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// readArgs validates (offset, length) arguments.
func readArgs(args []js.Value) (int64, int, error) {
	if len(args) < 2 {
		return 0, 0, errors.New("expected offset and length")
	}
	off, n := args[0].Float(), args[1].Float()
	if off < 0 || n < 0 || n > maxRead || off > 1<<53 {
		return 0, 0, fmt.Errorf("read of %.0f bytes at %.0f: offset must be non-negative and length at most %d", n, off, maxRead)
	}
	return int64(off), int(n), nil
}

// readWith reads up to n bytes at off with read, stopping short at the end.
func readWith(read func([]byte, int64) (int, error), off int64, n int) (any, error) {
	buf := make([]byte, n)
	got, err := read(buf, off)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, vhdx.ErrBeyondEnd) && !errors.Is(err, qcow2.ErrBeyondEnd) {
		return nil, err
	}
	return jsutil.Bytes(buf[:got]), nil
}

func (e *engine) readFile(args []js.Value) (any, error) {
	off, n, err := readArgs(args)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	img, err := e.current()
	top, other := e.top, e.vimg != nil
	e.mu.Unlock()
	if other { // no log to replay: the file as it is
		return readWith(top.reader.ReadAt, off, n)
	}
	if err != nil {
		return nil, err
	}
	return readWith(img.ReadFile, off, n)
}

func (e *engine) readDisk(args []js.Value) (any, error) {
	off, n, err := readArgs(args)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	disk, diskErr := e.disk, e.diskErr
	vd, other := e.vd, e.vimg != nil
	e.mu.Unlock()
	if other {
		if vd == nil {
			return nil, diskErr
		}
		return readWith(vd.ReadAt, off, n)
	}
	if disk == nil {
		if diskErr == nil {
			diskErr = errors.New("no image is open")
		}
		return nil, diskErr
	}
	return readWith(disk.ReadAt, off, n)
}
