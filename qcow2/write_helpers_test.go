package qcow2_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
)

// writeSource is a Source for the writer's tests: a size and the chunks it
// stores, in order; everything else reads as zeros. fail, when set, is
// called before each ReadAt with its offset and how many reads there were
// at that offset, this one included; an error fails the read.
type writeSource struct {
	size   int64
	chunks []writeChunk
	fail   func(off int64, nth int) error
	mu     sync.Mutex
	reads  map[int64]int
}

// writeChunk is data at an offset of a writeSource.
type writeChunk struct {
	off  int64
	data []byte
}

func (s *writeSource) Size() int64 { return s.size }

func (s *writeSource) ReadAt(p []byte, off int64) (int, error) {
	if s.fail != nil {
		s.mu.Lock()
		if s.reads == nil {
			s.reads = map[int64]int{}
		}
		s.reads[off]++
		nth := s.reads[off]
		s.mu.Unlock()
		if err := s.fail(off, nth); err != nil {
			return 0, err
		}
	}
	if off < 0 || off > s.size {
		return 0, fmt.Errorf("writeSource: read at %d of a %d-byte source", off, s.size)
	}
	n := int(min(int64(len(p)), s.size-off))
	clear(p[:n])
	for _, c := range s.chunks {
		lo, hi := max(off, c.off), min(off+int64(n), c.off+int64(len(c.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], c.data[lo-c.off:hi-c.off])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *writeSource) DataRanges(fn func(off, n int64) error) error {
	for _, c := range s.chunks {
		if err := fn(c.off, int64(len(c.data))); err != nil {
			return err
		}
	}
	return nil
}

// saveRaw writes the source as a raw file (sparse where it stores nothing).
func (s *writeSource) saveRaw(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(s.size); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.chunks {
		if _, err := f.WriteAt(c.data, c.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// dataClusters returns the numbers of the clusters of size cs that hold a
// non-zero byte of s, in order.
func (s *writeSource) dataClusters(cs int64) []int64 {
	var out []int64
	for _, c := range s.chunks {
		for i, b := range c.data {
			if b == 0 {
				continue
			}
			if n := (c.off + int64(i)) / cs; len(out) == 0 || out[len(out)-1] < n {
				out = append(out, n)
			}
		}
	}
	return out
}

// writeRandom returns n random bytes.
func writeRandom(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeText returns n bytes of words drawn at random from a small
// vocabulary: data that compresses a few times.
func writeText(r *rand.Rand, n int) []byte {
	words := strings.Fields("qcow2 cluster refcount table block header extension snapshot backing file data zero compressed offset guest host")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(" \n"[r.IntN(2)])
	}
	return b.Bytes()[:n]
}

// writeTo writes src with WriteImage to a file in dir and checks what it
// returns and reports against the file.
func writeTo(t *testing.T, dir string, src qcow2.Source, opt qcow2.WriteOptions) string {
	t.Helper()
	var out bytes.Buffer
	var last, total int64 = -1, -1
	n, err := qcow2.WriteImage(&out, src, opt, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(out.Len()) || last != n || total != n {
		t.Fatalf("WriteImage returned %d, wrote %d, last progress %d of %d", n, out.Len(), last, total)
	}
	p := filepath.Join(dir, "out.qcow2")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeCheckResult is what qemu-img check --output=json says.
type writeCheckResult struct {
	CheckErrors        int64 `json:"check-errors"`
	Corruptions        int64 `json:"corruptions"`
	Leaks              int64 `json:"leaks"`
	AllocatedClusters  int64 `json:"allocated-clusters"`
	CompressedClusters int64 `json:"compressed-clusters"`
	ImageEndOffset     int64 `json:"image-end-offset"`
}

// writeQEMUCheck runs qemu-img check on the image and fails the test on
// any error, corruption or leak (qemu-img check exits with 0 only then).
func writeQEMUCheck(t *testing.T, img string) writeCheckResult {
	t.Helper()
	var r writeCheckResult
	if err := json.Unmarshal(disktest.Output(t, "qemu-img", "check", "-f", "qcow2", "--output=json", img), &r); err != nil {
		t.Fatal(err)
	}
	if r.CheckErrors != 0 || r.Corruptions != 0 || r.Leaks != 0 {
		t.Fatalf("qemu-img check: %+v", r)
	}
	return r
}

// writeQEMUInfo is part of what qemu-img info --output=json says.
type writeQEMUInfo struct {
	VirtualSize int64 `json:"virtual-size"`
	ClusterSize int64 `json:"cluster-size"`
	Format      string
	Specific    struct {
		Data struct {
			Compat          string
			CompressionType string `json:"compression-type"`
		}
	} `json:"format-specific"`
}

func writeInfo(t *testing.T, img string) writeQEMUInfo {
	t.Helper()
	var info writeQEMUInfo
	if err := json.Unmarshal(disktest.Output(t, "qemu-img", "info", "-f", "qcow2", "--output=json", img), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// writeMapped returns the guest ranges qemu-img map says hold data, merged.
func writeMapped(t *testing.T, img string) [][2]int64 {
	t.Helper()
	var entries []struct {
		Start, Length int64
		Data          bool
	}
	if err := json.Unmarshal(disktest.Output(t, "qemu-img", "map", "-f", "qcow2", "--output=json", img), &entries); err != nil {
		t.Fatal(err)
	}
	var out [][2]int64
	for _, e := range entries {
		if !e.Data {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k][1] == e.Start {
			out[k][1] += e.Length
		} else {
			out = append(out, [2]int64{e.Start, e.Start + e.Length})
		}
	}
	return out
}

// writeRanges merges clusters of size cs into guest ranges, the last one
// ending at most at size.
func writeRanges(clusters []int64, cs, size int64) [][2]int64 {
	var out [][2]int64
	for _, c := range clusters {
		lo, hi := c*cs, min((c+1)*cs, size)
		if k := len(out) - 1; k >= 0 && out[k][1] == lo {
			out[k][1] = hi
		} else {
			out = append(out, [2]int64{lo, hi})
		}
	}
	return out
}

// writeLibqcowDigest reads the image with libqcow (Debian python3-libqcow)
// and returns its media size and the SHA-256 of its content.
func writeLibqcowDigest(t *testing.T, img string) string {
	t.Helper()
	const script = `
import hashlib, sys, pyqcow
f = pyqcow.file()
f.open(sys.argv[1])
size, h, pos = f.get_media_size(), hashlib.sha256(), 0
while pos < size:
    b = f.read_buffer_at_offset(min(1 << 20, size - pos), pos)
    if not b:
        sys.exit("short read at %d" % pos)
    h.update(b)
    pos += len(b)
print(size, h.hexdigest())
`
	out := disktest.Output(t, "/usr/bin/python3", "-c", script, img)
	return strings.TrimSpace(string(out))
}

// writeOpt returns the options for clusters of cs bytes (0: the default)
// stored as qemu-img's compression_type option names: "none" for plain
// clusters, "zlib" or "zstd".
func writeOpt(cs int, compression string) qcow2.WriteOptions {
	opt := qcow2.WriteOptions{ClusterSize: cs, Compress: compression != "none"}
	if compression == "zstd" {
		opt.CompressionType = qcow2.CompressionZstd
	}
	return opt
}

// errWriteInjected is the error the failing sources return.
var errWriteInjected = errors.New("injected read failure")
