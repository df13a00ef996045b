package qcow2_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
)

const (
	writeKiB = 1 << 10
	writeMiB = 1 << 20
	writeTiB = 1 << 40
)

// writeMixedSource returns a source of 20 MiB + 1234 bytes (a whole number
// of neither clusters nor sectors) holding random data, text, a run of one
// byte, a single non-zero byte and a range of zeros reported as data, at
// offsets that straddle cluster boundaries.
func writeMixedSource() *writeSource {
	r := rand.New(rand.NewPCG(7, 11))
	size := int64(20*writeMiB + 1234)
	return &writeSource{size: size, chunks: []writeChunk{
		{0, writeRandom(r, 5000)},
		{3*writeMiB + 100, writeText(r, 700*writeKiB)},
		{6 * writeMiB, make([]byte, writeMiB)}, // zeros, yet reported as data
		{9*writeMiB - 10, writeRandom(r, 20)},
		{12 * writeMiB, bytes.Repeat([]byte{0x5a}, 2*writeMiB)},
		{16*writeMiB + 512, []byte{1}},
		{17*writeMiB + 3, append(writeText(r, 300*writeKiB), writeRandom(r, 200*writeKiB)...)},
		{size - 3000, writeRandom(r, 3000)},
	}}
}

// TestWriteImageQEMU writes one source with every cluster size and
// compression and has QEMU check the image, compare it with the raw
// source, and report its geometry and allocation; libqcow reads the
// images it can (it knows no zstd).
func TestWriteImageQEMU(t *testing.T) {
	src := writeMixedSource()
	raw := filepath.Join(t.TempDir(), "src.raw")
	src.saveRaw(t, raw)
	rawBytes, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	virtual := (src.size + 511) &^ 511 // qcow2 sizes are whole sectors
	padded := append(rawBytes, make([]byte, virtual-src.size)...)
	wantDigest := fmt.Sprintf("%d %x", virtual, sha256.Sum256(padded))

	for _, cs := range []int{512, 4 * writeKiB, 64 * writeKiB, 2 * writeMiB} {
		for _, comp := range []string{"none", "zlib", "zstd"} {
			t.Run(fmt.Sprintf("%d-%s", cs, comp), func(t *testing.T) {
				img := writeTo(t, t.TempDir(), src, writeOpt(cs, comp))
				check := writeQEMUCheck(t, img)
				disktest.Output(t, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", img, raw)

				info := writeInfo(t, img)
				wantType := comp
				if comp == "none" {
					wantType = "zlib" // qcow2's default
				}
				if info.ClusterSize != int64(cs) || info.VirtualSize != virtual || info.Specific.Data.Compat != "1.1" ||
					info.Specific.Data.CompressionType != wantType {
					t.Fatalf("qemu-img info: %+v", info)
				}

				clusters := src.dataClusters(int64(cs))
				if got, want := writeMapped(t, img), writeRanges(clusters, int64(cs), virtual); !reflect.DeepEqual(got, want) {
					t.Fatalf("qemu-img map: data in %v, want the non-zero clusters %v", got, want)
				}
				if check.AllocatedClusters != int64(len(clusters)) {
					t.Fatalf("qemu-img check: %d clusters allocated, the source has %d non-zero ones", check.AllocatedClusters, len(clusters))
				}
				// The text and the run of one byte compress; clusters of
				// random data alone (there are some below 2 MiB) do not.
				compressed := check.CompressedClusters
				if (comp == "none") != (compressed == 0) || compressed > int64(len(clusters)) ||
					(cs < 2*writeMiB && compressed == int64(len(clusters))) {
					t.Fatalf("qemu-img check: %d of %d clusters compressed with %s", compressed, len(clusters), comp)
				}
				if st, _ := os.Stat(img); check.ImageEndOffset != st.Size() {
					t.Fatalf("qemu-img check: image ends at %d, the file has %d bytes", check.ImageEndOffset, st.Size())
				}
				if comp != "zstd" {
					if got := writeLibqcowDigest(t, img); got != wantDigest {
						t.Fatalf("libqcow reads %s, want %s", got, wantDigest)
					}
				}
			})
		}
	}
}

// TestWriteImageTiny writes sources of 0 and 1 bytes and one of a single
// sector of zeros.
func TestWriteImageTiny(t *testing.T) {
	for _, src := range []*writeSource{
		{size: 0},
		{size: 1, chunks: []writeChunk{{0, []byte{0xff}}}},
		{size: 512, chunks: []writeChunk{{0, make([]byte, 512)}}},
	} {
		for _, comp := range []string{"none", "zstd"} {
			t.Run(fmt.Sprintf("%d-%s", src.size, comp), func(t *testing.T) {
				dir := t.TempDir()
				img := writeTo(t, dir, src, writeOpt(0, comp))
				writeQEMUCheck(t, img)
				raw := filepath.Join(dir, "src.raw")
				src.saveRaw(t, raw)
				disktest.Output(t, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", img, raw)
			})
		}
	}
}

// TestWriteImageHugeSparse writes a 64 TiB disk holding a few ranges and
// compares it with an image qemu-io made with the same writes.
func TestWriteImageHugeSparse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	src := &writeSource{size: 64 * writeTiB, chunks: []writeChunk{
		{0, writeRandom(r, 4*writeKiB)},
		{writeTiB + 512, writeText(r, 100*writeKiB)},
		{40 * writeTiB, bytes.Repeat([]byte{0xab}, 64*writeKiB)},
		{64*writeTiB - 4*writeKiB, writeRandom(r, 4*writeKiB)},
	}}
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.qcow2")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", ref, fmt.Sprint(src.size))
	for i, c := range src.chunks {
		p := filepath.Join(dir, fmt.Sprint("chunk", i))
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		disktest.Output(t, "qemu-io", "-f", "qcow2", "-c", fmt.Sprintf("write -q -s %s %d %d", p, c.off, len(c.data)), ref)
	}
	for _, cs := range []int{64 * writeKiB, 2 * writeMiB} {
		for _, comp := range []string{"none", "zstd"} {
			t.Run(fmt.Sprintf("%d-%s", cs, comp), func(t *testing.T) {
				img := writeTo(t, t.TempDir(), src, writeOpt(cs, comp))
				// Header, refcount table and block, 4 L2 tables, 4 data
				// clusters, and the L1 table: 8 bytes per L2 table's span.
				l1 := src.size / int64(cs) / int64(cs/8) * 8
				if st, _ := os.Stat(img); st.Size() > 12*int64(cs)+l1 {
					t.Fatalf("a 64 TiB disk holding 172 KiB took a %d-byte image", st.Size())
				}
				writeQEMUCheck(t, img)
				disktest.Output(t, "qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", img, ref)
				if info := writeInfo(t, img); info.VirtualSize != src.size || info.ClusterSize != int64(cs) {
					t.Fatalf("qemu-img info: %+v", info)
				}
			})
		}
	}
}

// TestWriteImageOptions rejects options WriteImage cannot honour.
func TestWriteImageOptions(t *testing.T) {
	small := &writeSource{size: writeMiB}
	for _, tc := range []struct {
		src *writeSource
		opt qcow2.WriteOptions
	}{
		{small, qcow2.WriteOptions{ClusterSize: 256}},
		{small, qcow2.WriteOptions{ClusterSize: 4 * writeMiB}},
		{small, qcow2.WriteOptions{ClusterSize: 3 * writeKiB}},
		{small, qcow2.WriteOptions{Compress: true, CompressionType: 2}},
		// 64 TiB in 512-byte clusters needs a 16 GiB L1 table; QEMU
		// takes 32 MiB at most.
		{&writeSource{size: 64 * writeTiB}, qcow2.WriteOptions{ClusterSize: 512}},
	} {
		var out bytes.Buffer
		if _, err := qcow2.WriteImage(&out, tc.src, tc.opt, nil); !errors.Is(err, qcow2.ErrInvalidWriteOptions) || out.Len() != 0 {
			t.Errorf("%d bytes, %+v: err %v, %d bytes written", tc.src.size, tc.opt, err, out.Len())
		}
	}
}

// TestWriteImageReadErrors makes the source fail in the first pass, then
// in the second, with several workers busy. A job of the default 64 KiB
// clusters reads 1 MiB, so the text and random data at 17 MiB + 3 are read
// at 17 MiB once in each pass (the second pass reads again the clusters
// stored plain).
func TestWriteImageReadErrors(t *testing.T) {
	for _, comp := range []string{"none", "zlib"} {
		for nth := 1; nth <= 2; nth++ {
			src := writeMixedSource()
			src.fail = func(off int64, n int) error {
				if off == 17*writeMiB && n == nth {
					return errWriteInjected
				}
				return nil
			}
			if _, err := qcow2.WriteImage(io.Discard, src, writeOpt(0, comp), nil); !errors.Is(err, errWriteInjected) {
				t.Errorf("%s, read %d: got %v, want the read error", comp, nth, err)
			}
			if src.reads[17*writeMiB] != nth {
				t.Errorf("%s: %d reads at 17 MiB, want %d", comp, src.reads[17*writeMiB], nth)
			}
		}
	}
}

// TestWriteImageSourceChanges changes the source between the passes: a
// cluster the first pass did not keep no longer compresses to the planned
// length.
func TestWriteImageSourceChanges(t *testing.T) {
	defer qcow2.SetWriterCacheBytes(0)()
	src := writeMixedSource()
	text := src.chunks[1].data
	src.fail = func(off int64, n int) error {
		if off == 3*writeMiB && n == 2 { // the second pass
			copy(text, bytes.Repeat([]byte{'x'}, len(text)))
		}
		return nil
	}
	if _, err := qcow2.WriteImage(io.Discard, src, writeOpt(0, "zstd"), nil); err == nil {
		t.Fatal("a source that changed between the passes was written without an error")
	}
}

// TestWriteImageCache writes the same image keeping none, some and all of
// the compressed clusters from the first pass: the bytes are the same,
// and QEMU finds the image sound and identical to the source.
func TestWriteImageCache(t *testing.T) {
	src := writeMixedSource()
	dir := t.TempDir()
	raw := filepath.Join(dir, "src.raw")
	src.saveRaw(t, raw)
	want, err := os.ReadFile(writeTo(t, dir, src, writeOpt(4096, "zlib")))
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int{0, 100 * writeKiB} {
		restore := qcow2.SetWriterCacheBytes(budget)
		img := writeTo(t, dir, src, writeOpt(4096, "zlib"))
		restore()
		writeQEMUCheck(t, img)
		disktest.Output(t, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", img, raw)
		if got, _ := os.ReadFile(img); !bytes.Equal(got, want) {
			t.Fatalf("keeping %d bytes changes the image", budget)
		}
	}
}

// TestWriteImageBadRanges refuses data ranges out of order or past the
// end of the source.
func TestWriteImageBadRanges(t *testing.T) {
	for _, chunks := range [][]writeChunk{
		{{writeMiB, []byte{1}}, {0, []byte{1}}},
		{{writeMiB - 1, []byte{1, 2}}},
	} {
		src := &writeSource{size: writeMiB, chunks: chunks}
		if _, err := qcow2.WriteImage(io.Discard, src, qcow2.WriteOptions{}, nil); err == nil {
			t.Errorf("ranges %v accepted", chunks)
		}
	}
}

// writeFailAfter is a writer that fails once it has taken limit bytes.
type writeFailAfter struct{ limit, n int64 }

func (w *writeFailAfter) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return int(k), errWriteInjected
	}
	w.n += int64(len(p))
	return len(p), nil
}

// TestWriteImageWriteErrors fails the destination in the metadata and in
// the data; WriteImage reports the error and the bytes really written.
func TestWriteImageWriteErrors(t *testing.T) {
	opt := writeOpt(4096, "zstd")
	size, err := qcow2.WriteImage(io.Discard, writeMixedSource(), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{100, size / 2} {
		w := &writeFailAfter{limit: limit}
		n, err := qcow2.WriteImage(w, writeMixedSource(), opt, nil)
		if !errors.Is(err, errWriteInjected) || n != limit {
			t.Errorf("destination failing after %d bytes: n %d, err %v", limit, n, err)
		}
	}
}

// TestWriteImageFromQcow2 writes the mixed source, opens the image with
// this package's reader, which must find nothing wrong with it, and
// converts its disk (a Source) to a second image with other clusters and
// compression: QEMU finds it identical to the raw source.
func TestWriteImageFromQcow2(t *testing.T) {
	src := writeMixedSource()
	dir := t.TempDir()
	raw := filepath.Join(dir, "src.raw")
	src.saveRaw(t, raw)
	first := writeTo(t, t.TempDir(), src, writeOpt(4096, "zstd"))
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	img, err := qcow2.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range img.Check() {
		if f.Severity != qcow2.SeverityInfo {
			t.Errorf("Check: %s %s at %d: %s", f.Severity, f.Code, f.Offset, f.Message)
		}
	}
	d, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	second := writeTo(t, dir, d, writeOpt(64*writeKiB, "zlib"))
	writeQEMUCheck(t, second)
	disktest.Output(t, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", second, raw)
}
