package qcow2

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Decoders are pooled: each is used by one goroutine at a time.
var (
	deflatePool sync.Pool // of io.ReadCloser implementing flate.Resetter
	zstdPool    sync.Pool // of *zstd.Decoder
)

// zstdMaxWindow bounds the memory a hostile zstd frame can make a decoder
// take; QEMU's frames never need more than a cluster (2 MiB at most).
const zstdMaxWindow = 8 << 20

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

func inflateZstd(dst, src []byte) error {
	var d *zstd.Decoder
	if v := zstdPool.Get(); v != nil {
		d = v.(*zstd.Decoder)
	} else {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			return err
		}
	}
	defer zstdPool.Put(d)
	if err := d.Reset(bytes.NewReader(src)); err != nil {
		return err
	}
	_, err := io.ReadFull(d, dst)
	return err
}
