package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/hostile"
)

// budget is what one read command may cost on any input: heap allocated
// (in total, not only at the peak).
const budget = 512 << 20

// readWork returns the bytes this process has read through system calls
// (rchar of /proc/self/io), the work a command does on its files.
func readWork(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io to count reads: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Skip("no rchar in /proc/self/io")
	return 0
}

// errEnough stops cat once it has shown that the disk reads.
var errEnough = errors.New("enough")

// limitWriter accepts n bytes, then fails.
type limitWriter struct{ n int64 }

func (w *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.n {
		return 0, errEnough
	}
	w.n -= int64(len(p))
	return len(p), nil
}

// workBound bounds the bytes a command may read from h's file: in proportion to
// the size of its log and BAT regions, never to what they claim.
func workBound(h hostile.VHDX) int64 {
	return 4*(int64(h.Image.LogLength)+int64(h.Image.BATLength)) + 64*mib
}

// TestReadBudget: every read command on crafted worst cases for each
// structure, up to 64 TiB claimed, allocates under 512 MiB and reads in
// proportion to what the file really holds.
func TestReadBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("reads logs of up to 1 GiB")
	}
	dir := t.TempDir()
	for _, h := range hostile.VHDXImages() {
		t.Run(h.Name, func(t *testing.T) {
			p := filepath.Join(dir, h.Name)
			if err := h.WriteFile(p); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"info", "check", "map", "cat"} {
				var code int
				var errs strings.Builder
				before := readWork(t)
				n := allocated(func() {
					code = run([]string{cmd, p}, &limitWriter{16 << 20}, &errs)
				})
				work := readWork(t) - before
				if n > budget {
					t.Errorf("%s allocated %d MiB", cmd, n>>20)
				}
				if work > workBound(h) {
					t.Errorf("%s read %d MiB, more than %d MiB", cmd, work>>20, workBound(h)>>20)
				}
				if strings.Contains(errs.String(), "goroutine ") {
					t.Fatalf("%s panicked: %s", cmd, errs.String())
				}
				t.Logf("%-5s exit %d, %4d MiB allocated, %5d MiB read %s", cmd, code, n>>20, work>>20, firstLine(errs.String()))
			}
		})
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return fmt.Sprintf("%q", s)
}
