package disktest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// corpusDir is the shared corpus: $VHDX_CORPUS, or shared/corpus next to
// the repository (../shared from its root).
func corpusDir() string {
	if dir := os.Getenv("VHDX_CORPUS"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
}

// HaveCorpus reports whether the corpus is there.
func HaveCorpus() bool {
	_, err := os.Stat(filepath.Join(corpusDir(), "MANIFEST.json"))
	return err == nil
}

// ManifestPart is a partition as a MANIFEST "partitions" string gives it.
type ManifestPart struct {
	Type          string // "0x83"
	Start, Length int64  // sectors
}

var manifestPart = regexp.MustCompile(`type (0x[0-9a-f]{2}),? (?:at |start )LBA (\d+)[ ,(]+(\d+) sectors`)

// ManifestPartitions parses a MANIFEST "partitions" string: its scheme
// ("mbr", "gpt" or "none", the first word) and each "type 0xNN at LBA N
// (N sectors)" in order.
func ManifestPartitions(facts string) (scheme string, parts []ManifestPart) {
	if f := strings.Fields(facts); len(f) > 0 {
		scheme = strings.ToLower(strings.TrimSuffix(f[0], ":"))
	}
	for _, m := range manifestPart.FindAllStringSubmatch(facts, -1) {
		start, _ := strconv.ParseInt(m[2], 10, 64)
		n, _ := strconv.ParseInt(m[3], 10, 64)
		parts = append(parts, ManifestPart{m[1], start, n})
	}
	return scheme, parts
}

// CorpusFacts returns the MANIFEST.json entry of a corpus image (e.g.
// "btrfs.vhdx.gz"), skipping the test when the corpus is absent.
func CorpusFacts(t testing.TB, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(), "MANIFEST.json"))
	if err != nil {
		t.Skipf("corpus not found (%v); set VHDX_CORPUS to the folder holding MANIFEST.json", err)
	}
	var m struct {
		Images map[string]map[string]any `json:"images"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("MANIFEST.json: %v", err)
	}
	facts, ok := m.Images[name]
	if !ok {
		t.Fatalf("MANIFEST.json does not describe %s", name)
	}
	return facts
}

// CorpusDisk decompresses a corpus image into memory and returns its
// virtual disk (after log replay), skipping the test when the corpus is
// absent.
func CorpusDisk(t testing.TB, name string) *vhdx.Disk {
	t.Helper()
	CorpusFacts(t, name)
	in, err := os.Open(filepath.Join(corpusDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	disk, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	return disk
}

// Head returns the first n bytes of r at off (fewer at its end).
func Head(t testing.TB, r io.ReaderAt, off int64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	m, err := r.ReadAt(b, off)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b[:m]
}
