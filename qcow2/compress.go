package qcow2

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// deflatePool holds idle deflate decoders (io.ReadCloser implementing
// flate.Resetter); each is used by one goroutine at a time.
var deflatePool sync.Pool

// zstdDecoder decodes every zstd cluster; its DecodeAll is safe for
// concurrent use. Its memory is bounded against hostile frames: QEMU's
// never need more than a cluster (2 MiB at most).
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderMaxMemory(8<<20), zstd.WithDecodeAllCapLimit(true))
})

// decompressCluster decodes one compressed cluster from src into dst,
// which is exactly a cluster long. Decoding stops when dst is full: the
// bytes after the stream (the rest of the last sector) are ignored.
func (img *Image) decompressCluster(dst, src []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	if img.Header.CompressionType == CompressionZstd {
		return inflateZstd(dst, src)
	}
	return inflateDeflate(dst, src)
}

func inflateDeflate(dst, src []byte) error {
	br := bytes.NewReader(src)
	var fr io.ReadCloser
	if v := deflatePool.Get(); v != nil {
		fr = v.(io.ReadCloser)
		if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
			return err
		}
	} else {
		fr = flate.NewReader(br)
	}
	defer deflatePool.Put(fr)
	_, err := io.ReadFull(fr, dst)
	return err
}

// inflateZstd decodes the frame at the start of src. What follows the
// frame is padding or the next cluster's data: the error decoding it as a
// second frame (past dst's capacity) is ignored once dst is full.
func inflateZstd(dst, src []byte) error {
	d, err := zstdDecoder()
	if err != nil {
		return err
	}
	// dst's capacity is capped: decoding stops at the end of the cluster
	// and never writes past it.
	out, err := d.DecodeAll(src, dst[:0:len(dst)])
	if len(out) < len(dst) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if &out[0] != &dst[0] {
		copy(dst, out) // the decoder chose its own buffer
	}
	return nil
}
