package qcow2

import (
	"crypto/rand"
	"encoding/base64"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchImage makes a 32 MiB image of base64 text (compressible) as qemu-img
// convert stores it with opts.
func benchImage(b *testing.B, opts ...string) *Disk {
	dir := b.TempDir()
	raw := make([]byte, 24<<20)
	if _, err := rand.Read(raw); err != nil {
		b.Fatal(err)
	}
	text := []byte(base64.StdEncoding.EncodeToString(raw))[:32<<20]
	src := filepath.Join(dir, "src.raw")
	if err := os.WriteFile(src, text, 0o644); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "x.qcow2")
	disktest.Output(b, "qemu-img", append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, opts...), src, path)...)
	d, err := openImage(b, path).Disk()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func benchWriteTo(b *testing.B, opts ...string) {
	d := benchImage(b, opts...)
	b.SetBytes(d.Size())
	for b.Loop() {
		if _, err := d.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteToPlain(b *testing.B) { benchWriteTo(b) }
func BenchmarkWriteToZlib(b *testing.B)  { benchWriteTo(b, "-c", "-o", "compression_type=zlib") }
func BenchmarkWriteToZstd(b *testing.B)  { benchWriteTo(b, "-c", "-o", "compression_type=zstd") }

// BenchmarkCheck checks a fully written 64 MiB image with 4 KiB clusters
// (16384 data clusters, 32 L2 tables).
func BenchmarkCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "x.qcow2")
	disktest.Output(b, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", path, "64M")
	disktest.Output(b, "qemu-io", "-f", "qcow2", "-c", "write -P 7 0 64M", path)
	img := openImage(b, path)
	b.ReportAllocs()
	for b.Loop() {
		if rep := img.CheckReport(); len(rep.Findings) != 0 {
			b.Fatalf("findings %+v", rep.Findings)
		}
	}
}
