package disktest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzCorpus returns the inputs kept under the repository's top-level
// testdata/fuzz/<name>/ (Go's corpus file format, one []byte each: inputs
// that once failed); root is the path from the package to the repository
// root. A target with no such folder has none.
func FuzzCorpus(tb testing.TB, root, name string) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "fuzz", name, "*"))
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			tb.Fatalf("%s: not a one-argument []byte corpus file", p)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// AddFuzzCorpus adds FuzzCorpus(f, root, name) to f's seeds.
func AddFuzzCorpus(f *testing.F, root, name string) {
	f.Helper()
	for _, b := range FuzzCorpus(f, root, name) {
		f.Add(b)
	}
}
