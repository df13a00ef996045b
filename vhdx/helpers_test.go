package vhdx_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
	tib = 1 << 40
)

// ---- building images ----

// buildSparse serialises im into a sparse file of im.Size() bytes.
func buildSparse(t testing.TB, im *vb.Image) *vb.SparseFile {
	t.Helper()
	f := vb.NewSparseFile()
	if err := im.WriteSparse(f); err != nil {
		t.Fatalf("WriteSparse: %v", err)
	}
	f.Truncate(im.Size()) // a FileSize override cuts what was written past it
	return f
}

// pattern returns n reproducible pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// ---- opening ----

// guardReader is the source handed to Open in tests that must prove the
// engine only reads: every write-like method fails the test. It also
// counts the bytes read and records the largest single read.
type guardReader struct {
	t  testing.TB
	r  io.ReaderAt
	mu sync.Mutex
	// read and maxRead are the total bytes requested and the largest single request.
	read, maxRead int64
}

func guard(t testing.TB, r io.ReaderAt) *guardReader { return &guardReader{t: t, r: r} }

func (g *guardReader) ReadAt(p []byte, off int64) (int, error) {
	g.mu.Lock()
	g.read += int64(len(p))
	g.maxRead = max(g.maxRead, int64(len(p)))
	g.mu.Unlock()
	return g.r.ReadAt(p, off)
}

func (g *guardReader) stats() (read, maxRead int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.read, g.maxRead
}

func (g *guardReader) reset() {
	g.mu.Lock()
	g.read, g.maxRead = 0, 0
	g.mu.Unlock()
}

func (g *guardReader) WriteAt(p []byte, off int64) (int, error) {
	g.t.Errorf("the engine called WriteAt(%d bytes, %d) on its source", len(p), off)
	return 0, errors.New("guardReader: read-only")
}

func (g *guardReader) Write(p []byte) (int, error) {
	g.t.Errorf("the engine called Write(%d bytes) on its source", len(p))
	return 0, errors.New("guardReader: read-only")
}

func (g *guardReader) Truncate(size int64) error {
	g.t.Errorf("the engine called Truncate(%d) on its source", size)
	return errors.New("guardReader: read-only")
}

func (g *guardReader) Sync() error {
	g.t.Errorf("the engine called Sync on its source")
	return errors.New("guardReader: read-only")
}

func (g *guardReader) Seek(offset int64, whence int) (int64, error) {
	g.t.Errorf("the engine called Seek on its source")
	return 0, errors.New("guardReader: no seeking")
}

func (g *guardReader) Close() error {
	g.t.Errorf("the engine closed its source")
	return nil
}

// openBytes opens b, failing the test on an error.
func openBytes(t testing.TB, b []byte) *vhdx.Image {
	t.Helper()
	img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return img
}

// openImage serialises im (sparse) and opens it.
func openImage(t testing.TB, im *vb.Image) (*vhdx.Image, *vb.SparseFile) {
	t.Helper()
	f := buildSparse(t, im)
	img, err := vhdx.Open(f, f.Size())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return img, f
}

func mustDisk(t testing.TB, img *vhdx.Image) *vhdx.Disk {
	t.Helper()
	d, err := img.Disk()
	if err != nil {
		t.Fatalf("Disk: %v", err)
	}
	return d
}

// ---- findings ----

var severityRank = map[vhdx.Severity]int{vhdx.SeverityInfo: 1, vhdx.SeverityWarning: 2, vhdx.SeverityError: 3}

// findingCodes runs Check and returns each code found with its worst severity.
func findingCodes(img *vhdx.Image) map[string]vhdx.Severity {
	out := map[string]vhdx.Severity{}
	for _, f := range img.Check() {
		if old, ok := out[f.Code]; !ok || severityRank[f.Severity] > severityRank[old] {
			out[f.Code] = f.Severity
		}
	}
	return out
}

// codes is shorthand for an expected finding set.
type codes = map[string]vhdx.Severity

const (
	sevE = vhdx.SeverityError
	sevW = vhdx.SeverityWarning
	sevI = vhdx.SeverityInfo
)

// wantCodes fails unless Check reports exactly the codes in want.
func wantCodes(t testing.TB, img *vhdx.Image, want codes) {
	t.Helper()
	got := findingCodes(img)
	if !mapsEqual(got, want) {
		t.Errorf("Check codes:\n got  %s\n want %s\nfindings:\n%s", fmtCodes(got), fmtCodes(want), fmtFindings(img.Check()))
	}
}

func mapsEqual(a, b codes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func fmtCodes(m codes) string {
	var s []string
	for k, v := range m {
		s = append(s, k+"="+string(v))
	}
	sort.Strings(s)
	return "{" + strings.Join(s, " ") + "}"
}

func fmtFindings(fs []vhdx.Finding) string {
	var sb strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&sb, "  %s %s %s @%#x: %s\n", f.Severity, f.Code, f.Structure, f.Offset, f.Message)
	}
	return sb.String()
}

// findingsWith returns the findings carrying code.
func findingsWith(img *vhdx.Image, code string) []vhdx.Finding {
	var out []vhdx.Finding
	for _, f := range img.Check() {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

// ---- errors ----

// wantFormatErr fails unless err wraps sentinel and is a *FormatError
// naming structure at offset (offset -2 skips the offset check).
func wantFormatErr(t testing.TB, err, sentinel error, structure string, offset int64) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not wrap %v", err, sentinel)
	}
	var fe *vhdx.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FormatError", err)
	}
	if fe.Structure != structure || (offset != -2 && fe.Offset != offset) {
		t.Errorf("FormatError names %q at %#x, want %q at %#x (%v)", fe.Structure, fe.Offset, structure, offset, err)
	}
}

// ---- reading ----

// readAll reads the whole disk through WriteTo.
func readAll(t testing.TB, d *vhdx.Disk) []byte {
	t.Helper()
	var buf bytes.Buffer
	if n, err := d.WriteTo(&buf); err != nil || n != d.Size() {
		t.Fatalf("WriteTo: %d bytes, %v (disk is %d)", n, err, d.Size())
	}
	return buf.Bytes()
}

// readRange reads [off, off+n) and fails on an error or a short read.
func readRange(t testing.TB, d *vhdx.Disk, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	got, err := d.ReadAt(p, off)
	if err != nil || got != n {
		t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", n, off, got, err)
	}
	return p
}

// firstDiff describes where a and b first differ.
func firstDiff(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at %d: %#02x vs %#02x", i, a[i], b[i])
		}
	}
	return "equal"
}

func isZeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// collectExtents returns all extents of d.
func collectExtents(t testing.TB, d *vhdx.Disk) []vhdx.Extent {
	t.Helper()
	var out []vhdx.Extent
	if err := d.Extents(func(e vhdx.Extent) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("Extents: %v", err)
	}
	return out
}

// batEntryOffset returns the file offset of BAT entry idx of im.
func batEntryOffset(im *vb.Image, idx int) int64 { return int64(im.BATOffset) + 8*int64(idx) }
