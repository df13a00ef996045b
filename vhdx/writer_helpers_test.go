package vhdx

import (
	"bytes"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"math/rand/v2"
	"strings"
	"testing"
)

// Test helpers of the writer tests. Every name starts with wt so that the
// internal test package does not collide with the package's own names.

// wtFile is the sparse in-memory File of the writer tests.
type wtFile = vhdxbuild.SparseFile

func newWTFile() *wtFile { return vhdxbuild.NewSparseFile() }

// wtRead reads the virtual disk of img at off into p. For a differencing
// disk, parent reads the parent's virtual disk; sectors and blocks not
// present in img come from it.
func wtRead(img *Image, parent func([]byte, int64) error, p []byte, off int64) error {
	m := img.Metadata
	if m == nil || img.BAT == nil {
		return fmt.Errorf("image has no metadata or BAT: %v", img.readErr)
	}
	if !m.HasParent {
		d, err := img.Disk()
		if err != nil {
			return err
		}
		n, err := d.ReadAt(p, off)
		if n == len(p) {
			return nil
		}
		return err
	}
	bs, lss := int64(m.BlockSize), int64(m.LogicalSectorSize)
	for n := int64(0); n < int64(len(p)); {
		pos := off + n
		in := pos % bs
		c := min(int64(len(p))-n, bs-in)
		dst := p[n : n+c]
		e, err := img.BAT.Block(uint64(pos / bs))
		if err != nil {
			return err
		}
		switch e.State {
		case NotPresent, Undefined, Unmapped:
			if err := parent(dst, pos); err != nil {
				return err
			}
		case Zero:
			clear(dst)
		case FullyPresent:
			if err := readAt(img.view, dst, e.FileOffset+in, "payload"); err != nil {
				return err
			}
		case PartiallyPresent:
			s := uint64(pos / lss)
			chunk := s >> 23
			bm, err := img.BAT.Entry(img.BAT.BitmapIndex(chunk))
			if err != nil {
				return err
			}
			if bm.State != SectorBitmapPresent {
				return fmt.Errorf("block %d partially present, chunk %d has no bitmap", e.Block, chunk)
			}
			for k := int64(0); k < c; k += lss {
				bit := (uint64(pos+k) / uint64(lss)) & (1<<23 - 1)
				var by [1]byte
				if err := readAt(img.view, by[:], bm.FileOffset+int64(bit/8), "bitmap"); err != nil {
					return err
				}
				sec := dst[k : k+lss]
				if by[0]&(1<<(bit%8)) != 0 {
					if err := readAt(img.view, sec, e.FileOffset+in+k, "payload"); err != nil {
						return err
					}
				} else if err := parent(sec, pos+k); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("block %d has state %s", e.Block, e.State)
		}
		n += c
	}
	return nil
}

// wtChain returns a reader of the virtual disk of the chain imgs (child
// first, base last).
func wtChain(imgs ...*Image) func([]byte, int64) error {
	if len(imgs) == 0 {
		return func(p []byte, _ int64) error { return fmt.Errorf("no parent") }
	}
	parent := wtChain(imgs[1:]...)
	return func(p []byte, off int64) error { return wtRead(imgs[0], parent, p, off) }
}

// wtFindings returns the findings of img at warning or error severity,
// formatted, minus those whose code is in allowed.
func wtFindings(img *Image, allowed ...string) []string {
	var out []string
	for _, f := range img.Check() {
		if f.Severity == SeverityInfo {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || f.Code == a
		}
		if !ok {
			out = append(out, fmt.Sprintf("%s %s %s: %s", f.Severity, f.Code, f.Structure, f.Message))
		}
	}
	return out
}

func wtClean(t testing.TB, img *Image, allowed ...string) {
	t.Helper()
	if fs := wtFindings(img, allowed...); len(fs) > 0 {
		t.Fatalf("findings:\n%s", strings.Join(fs, "\n"))
	}
}

func wtOpen(t testing.TB, f *wtFile) *Image {
	t.Helper()
	img, err := Open(f, f.Size())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return img
}

func wtCreate(t testing.TB, opt CreateOptions) *wtFile {
	t.Helper()
	f := newWTFile()
	if err := Create(f, opt); err != nil {
		t.Fatalf("Create(%+v): %v", opt, err)
	}
	return f
}

// wtPattern returns n bytes that depend on seed: a random 4 KiB base
// repeated, with every 512-byte sector stamped with its index and the seed,
// so no two sectors of any pattern are equal and none is all zeros.
func wtPattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var base [4096]byte
	for i := 0; i < len(base); i += 8 {
		le.PutUint64(base[i:], r.Uint64())
	}
	b := make([]byte, n)
	for i := 0; i < n; i += len(base) {
		copy(b[i:], base[:])
	}
	for i := 0; i+16 <= n; i += 512 {
		le.PutUint64(b[i:], uint64(i/512)+1)
		le.PutUint64(b[i+8:], seed)
	}
	return b
}

// wtModel is the expected virtual disk: what was written over a base.
type wtModel struct {
	data []byte
}

// wtCompare reads the whole virtual disk of img (through chain for
// differencing disks) and compares it with want.
func wtCompare(t testing.TB, read func([]byte, int64) error, want []byte) {
	t.Helper()
	const step = 4 * mib
	buf := make([]byte, step)
	for off := int64(0); off < int64(len(want)); off += step {
		n := min(step, int64(len(want))-off)
		if err := read(buf[:n], off); err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if !bytes.Equal(buf[:n], want[off:off+n]) {
			i := 0
			for i < int(n) && buf[i] == want[off+int64(i)] {
				i++
			}
			t.Fatalf("virtual disk differs at %d (got %#x, want %#x)", off+int64(i), buf[i], want[off+int64(i)])
		}
	}
}
