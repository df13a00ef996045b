package qcow2

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

// hostileImages are crafted worst cases: headers claiming huge tables.
func hostileImages(t testing.TB) map[string][]byte {
	base := func(clusterBits uint32) []byte {
		b := make([]byte, 1<<16)
		be := binary.BigEndian
		be.PutUint32(b[0:], Magic)
		be.PutUint32(b[4:], 3)
		be.PutUint32(b[20:], clusterBits)
		be.PutUint64(b[24:], 1<<40)
		be.PutUint32(b[100:], 104)
		be.PutUint32(b[96:], 4)
		return b
	}
	out := map[string][]byte{}
	// An L1 table of 2^32-1 entries at offset 0.
	b := base(16)
	binary.BigEndian.PutUint32(b[36:], 0xffffffff)
	out["huge_l1"] = b
	// An L1 the file can hold, every entry pointing at one 2 MiB "L2
	// table" (the header cluster) full of references.
	b = base(21)
	binary.BigEndian.PutUint32(b[36:], 4096)
	binary.BigEndian.PutUint64(b[40:], 0)
	for i := 1024; i+8 <= len(b); i += 8 {
		binary.BigEndian.PutUint64(b[i:], 1<<63)
	}
	out["shared_l2"] = b
	// 65536 snapshots claimed.
	b = base(16)
	binary.BigEndian.PutUint32(b[60:], 65536)
	out["many_snapshots"] = b
	// A refcount table of 2^32-1 clusters.
	b = base(9)
	binary.BigEndian.PutUint32(b[56:], 0xffffffff)
	out["huge_refcount_table"] = b
	// A snapshot whose ID and name claim 64 KiB each.
	b = base(16)
	binary.BigEndian.PutUint32(b[60:], 1)
	binary.BigEndian.PutUint64(b[64:], 0)
	binary.BigEndian.PutUint32(b[36:], 0)
	binary.BigEndian.PutUint16(b[12:], 0xffff)
	binary.BigEndian.PutUint16(b[14:], 0xffff)
	out["long_snapshot_names"] = b
	return out
}

// TestHostile opens, lists, reads and checks the crafted worst cases
// within bounded time and memory.
func TestHostile(t *testing.T) {
	for name, b := range hostileImages(t) {
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
