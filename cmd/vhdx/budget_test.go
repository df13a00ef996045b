package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
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

// patchFile writes b at off in the file at p.
func patchFile(t testing.TB, p string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// hostile is a crafted worst case for one structure: an image and what is
// done to its file after it is written.
type hostile struct {
	name  string
	im    *vb.Image
	patch func(t testing.TB, p string, im *vb.Image)
}

// work bounds the bytes a command may read from h's file: in proportion to
// the size of its log and BAT regions, never to what they claim.
func (h hostile) work() int64 { return 4*(int64(h.im.LogLength)+int64(h.im.BATLength)) + 64*mib }

func hostileImages() []hostile {
	const tib = 1 << 40
	var out []hostile

	// Log: every sector of a 64 MiB log starts an entry claiming all of it.
	im := vb.New(vb.Options{LogSize: 64 * mib})
	im.Headers[0].LogGUID, im.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
	out = append(out, hostile{"log_flood", im, func(t testing.TB, p string, im *vb.Image) {
		buf := make([]byte, im.LogLength)
		for off := 0; off < len(buf); off += vb.LogSectorSize {
			copy(buf[off:], "loge")
			binary.LittleEndian.PutUint32(buf[off+8:], im.LogLength)
			vb.PutGUID(buf[off+32:], vb.DefaultLogGUID)
		}
		patchFile(t, p, int64(im.LogOffset), buf)
	}})

	// Log: one entry claiming a 1 GiB log, with as many descriptors as fit.
	im = vb.New(vb.Options{LogSize: 1 << 30})
	im.Headers[0].LogGUID, im.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
	out = append(out, hostile{"log_entry_1GiB", im, func(t testing.TB, p string, im *vb.Image) {
		var s [vb.LogSectorSize]byte
		copy(s[:], "loge")
		binary.LittleEndian.PutUint32(s[8:], im.LogLength)
		binary.LittleEndian.PutUint32(s[24:], (im.LogLength-64)/32)
		vb.PutGUID(s[32:], vb.DefaultLogGUID)
		patchFile(t, p, int64(im.LogOffset), s[:])
	}})

	// BAT: a 64 TiB disk of 32 MiB blocks whose 2 Mi entries alternate
	// between a block 1 TiB beyond the file and ZERO (no extents merge).
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib})
	out = append(out, hostile{"bat_64TiB", im, func(t testing.TB, p string, im *vb.Image) {
		bat := make([]byte, 8*im.BATEntries())
		for i := range im.BATEntries() {
			v := vb.EncodeBATEntry(vb.PayloadZero, 0)
			if i%2 == 0 {
				v = vb.EncodeBATEntry(vb.PayloadFullyPresent, tib)
			}
			binary.LittleEndian.PutUint64(bat[8*i:], v)
		}
		patchFile(t, p, int64(im.BATOffset), bat)
	}})

	// Metadata: 2047 entries, the most a table holds, each claiming 1 MiB.
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib})
	for len(im.Metadata.Items) < 2047 {
		im.Metadata.Items = append(im.Metadata.Items, vb.MetadataItem{ID: uuid.New(), Explicit: true, Offset: 64 * kib, Length: 1 << 20})
	}
	out = append(out, hostile{"metadata_2047_items", im, nil})

	// Parent locator: 65535 entries whose keys and values all overlap one
	// 64 KiB text (it decoded to gigabytes).
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib, HasParent: true})
	loc := make([]byte, 20+12*65535+65534)
	vb.PutGUID(loc, vhdx.ParentLocatorVHDX)
	binary.LittleEndian.PutUint16(loc[18:], 65535)
	for i := range 65535 {
		e := loc[20+12*i:]
		binary.LittleEndian.PutUint32(e, uint32(20+12*65535))
		binary.LittleEndian.PutUint32(e[4:], uint32(20+12*65535))
		binary.LittleEndian.PutUint16(e[8:], 65534)
		binary.LittleEndian.PutUint16(e[10:], 65534)
	}
	for i := 20 + 12*65535; i+1 < len(loc); i += 2 {
		loc[i] = 'a'
	}
	im.MetadataItem(vhdx.ItemParentLocator).Data = loc
	out = append(out, hostile{"parent_locator_65535", im, nil})

	// Region table: a huge entry count in one copy, regions claiming 4 GiB
	// near 64 TiB in the other.
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib})
	im.AddRegion(uuid.New(), 64*tib, 1<<32-mib, false)
	out = append(out, hostile{"region_table", im, func(t testing.TB, p string, im *vb.Image) {
		patchFile(t, p, 192*kib+8, []byte{0xff, 0xff, 0xff, 0xff})
	}})
	return out
}

// TestReadBudget: every read command on crafted worst cases for each
// structure, up to 64 TiB claimed, allocates under 512 MiB and reads in
// proportion to what the file really holds.
func TestReadBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("reads logs of up to 1 GiB")
	}
	dir := t.TempDir()
	for _, h := range hostileImages() {
		t.Run(h.name, func(t *testing.T) {
			p := saveImage(t, dir, h.name+".vhdx", h.im)
			if h.patch != nil {
				h.patch(t, p, h.im)
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
				if work > h.work() {
					t.Errorf("%s read %d MiB, more than %d MiB", cmd, work>>20, h.work()>>20)
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
