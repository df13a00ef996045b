package qcow2

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/internal/hostile"
)

// TestHostile opens, lists, reads and checks the crafted worst cases
// within bounded time and memory.
func TestHostile(t *testing.T) {
	for name, b := range hostile.QCOW2Images() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			img, err := Open(bytes.NewReader(b), int64(len(b)))
			checkSentinel(t, "Open", err)
			if img == nil {
				t.Fatalf("no image: %v", err)
			}
			img.Fields()
			img.CheckReport()
			if d, err := img.Disk(); err == nil {
				_, err := d.ReadAt(make([]byte, 1<<20), 0)
				checkSentinel(t, "ReadAt", err)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d bytes", alloc)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}
