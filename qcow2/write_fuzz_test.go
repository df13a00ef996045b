package qcow2_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
)

// writeFuzzSource builds a source of up to 4 MiB from fuzz input: each
// 4-byte record is a gap, a length and a fill, making a chunk of one byte
// repeated (odd fill) or of random bytes (even fill).
func writeFuzzSource(size uint32, records []byte) *writeSource {
	src := &writeSource{size: int64(size % (4 << 20))}
	pos := int64(0)
	for ; len(records) >= 4; records = records[4:] {
		gap, n, fill := int64(binary.LittleEndian.Uint16(records)), int(records[2])+1, records[3]
		pos += gap * 37
		n *= 61
		if pos+int64(n) > src.size {
			break
		}
		data := bytes.Repeat([]byte{fill}, n)
		if fill&1 == 0 {
			data = writeRandom(rand.New(rand.NewPCG(uint64(fill), uint64(pos))), n)
		}
		src.chunks = append(src.chunks, writeChunk{pos, data})
		pos += int64(n)
	}
	return src
}

// FuzzWriteImage writes sources made from the input with cluster sizes
// from 512 B to 64 KiB and each compression; this package's reader must
// find the image sound and read the source's bytes back. (The tests
// with QEMU cover the same ground on chosen sources.)
func FuzzWriteImage(f *testing.F) {
	f.Add(uint8(0), uint32(70000), []byte{0, 0, 10, 1, 3, 0, 255, 2})
	f.Add(uint8(7), uint32(1<<20+1), []byte{100, 0, 50, 0x5a, 1, 1, 200, 8, 0, 2, 0, 3})
	f.Add(uint8(14), uint32(3<<20), bytes.Repeat([]byte{200, 1, 255, 7}, 20))
	f.Fuzz(func(t *testing.T, shape uint8, size uint32, records []byte) {
		src := writeFuzzSource(size, records)
		comp := []string{"none", "zlib", "zstd"}[shape%3]
		opt := writeOpt(512<<(shape/3%8), comp)
		var out bytes.Buffer
		if _, err := qcow2.WriteImage(&out, src, opt, nil); err != nil {
			t.Fatal(err)
		}
		img, err := qcow2.Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range img.Check() {
			if f.Severity != qcow2.SeverityInfo {
				t.Fatalf("%d-byte clusters, %s: %s %s at %d: %s", opt.ClusterSize, comp, f.Severity, f.Code, f.Offset, f.Message)
			}
		}
		d, err := img.Disk()
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, (src.size+511)&^511)
		src.ReadAt(want[:src.size], 0)
		got := make([]byte, len(want))
		if n, err := d.ReadAt(got, 0); n != len(got) {
			t.Fatalf("read %d of %d bytes: %v", n, len(got), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d-byte clusters, %s: the image reads differently from the source", opt.ClusterSize, comp)
		}
	})
}
