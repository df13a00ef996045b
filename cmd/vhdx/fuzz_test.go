package main

import (
	"bytes"
	"encoding/binary"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// cliTemplate is an image FuzzCLI patches.
type cliTemplate struct {
	im *vb.Image
	b  []byte
}

var (
	cliTemplatesOnce sync.Once
	cliTemplates     []cliTemplate
)

func fuzzPattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// templatesForCLI builds the images FuzzCLI starts from: a dirty log, a
// differencing disk with a sector bitmap, and a dynamic disk with blocks.
func templatesForCLI() []cliTemplate {
	cliTemplatesOnce.Do(func() {
		dirty := vb.New(vb.Options{VirtualSize: 8 * mib})
		dirty.SetBlock(1, vb.PayloadFullyPresent, fuzzPattern(4*kib, 1))
		newOff := dirty.Allocate(mib)
		clean := dirty.Bytes()
		bat := bytes.Clone(clean[dirty.BATOffset : dirty.BATOffset+4096])
		binary.LittleEndian.PutUint64(bat[16:], vb.EncodeBATEntry(vb.PayloadFullyPresent, newOff))
		e := vb.NewLogEntry(10)
		e.Writes = []vb.LogWrite{{FileOffset: dirty.BATOffset, Data: bat}, {FileOffset: newOff, Data: fuzzPattern(4*kib, 2)}}
		e.Zeros = []vb.LogZero{{FileOffset: dirty.Blocks[1].FileOffset + 64*kib, Length: 8 * kib}}
		dirty.AddLogEntry(e)

		diff := vb.New(vb.Options{VirtualSize: 8 * mib, HasParent: true})
		diff.SetBlock(1, vb.PayloadPartiallyPresent, fuzzPattern(4*kib, 3))
		diff.MarkSectorsPresent(2048, 8)

		dyn := vb.New(vb.Options{VirtualSize: 6*mib + 512, LogicalSectorSize: 512, PhysicalSectorSize: 4096})
		dyn.SetBlock(0, vb.PayloadFullyPresent, fuzzPattern(4*kib, 4))
		dyn.SetBlock(3, vb.PayloadZero, nil)
		dyn.SetBlock(5, vb.PayloadFullyPresent, fuzzPattern(512, 5))
		for _, im := range []*vb.Image{dirty, diff, dyn} {
			cliTemplates = append(cliTemplates, cliTemplate{im, im.Bytes()})
		}
	})
	return cliTemplates
}

// fuzzImage turns a fuzz input into an image: data[0] picks a template,
// the rest are patches for vhdxbuild's Image.Patch.
func fuzzImage(data []byte) []byte {
	tpls := templatesForCLI()
	if len(data) == 0 {
		return bytes.Clone(tpls[0].b)
	}
	tpl := tpls[int(data[0])%len(tpls)]
	return tpl.im.Patch(tpl.b, data[1:])
}

// cliSeeds reads the inputs kept under testdata/fuzz/FuzzCLI (Go's corpus
// file format, one []byte each): cases that once crashed, hung, blew up
// memory or were written through.
func cliSeeds(tb testing.TB) [][]byte {
	seeds := disktest.FuzzCorpus(tb, "../..", "FuzzCLI")
	if len(seeds) == 0 {
		tb.Fatal("seed corpus: no inputs under testdata/fuzz/FuzzCLI")
	}
	return seeds
}

// fuzzDir returns a temporary folder in memory where there is one (the
// writer syncs often; a disk makes each input slow), else on disk.
func fuzzDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "vhdx-fuzz-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// FuzzCLI runs info, check, map and cat on patched images, then write on a
// copy: no panic, no hang, under the memory budget, text output free of
// control characters, and a write either refused with the file untouched
// or leaving an image that opens.
func FuzzCLI(f *testing.F) {
	for i := range templatesForCLI() {
		f.Add([]byte{byte(i)})
	}
	for _, s := range cliSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzImage(data)
		dir := fuzzDir(t)
		p := filepath.Join(dir, "disk.vhdx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"info", "check", "map", "cat"} {
			var out, errs bytes.Buffer
			var stdout interface{ Write([]byte) (int, error) } = &out
			if cmd == "cat" {
				stdout = &limitWriter{4 << 20}
			}
			if n := allocated(func() { run([]string{cmd, p}, stdout, &errs) }); n > budget {
				t.Fatalf("%s allocated %d MiB", cmd, n>>20)
			}
			if text := out.String() + errs.String(); strings.ContainsFunc(text, func(r rune) bool { return r != '\n' && unsafeRune(r) }) {
				t.Fatalf("%s printed a control character: %q", cmd, text)
			}
		}
		c := filepath.Join(dir, "copy.vhdx")
		if err := os.WriteFile(c, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var errs bytes.Buffer
		old := stdin
		stdin = bytes.NewReader(bytes.Repeat([]byte{0x5A}, 8*kib))
		code := run([]string{"write", c, "1M"}, &bytes.Buffer{}, &errs)
		stdin = old
		af, err := os.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		defer af.Close()
		st, err := af.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if code == 2 {
			after := make([]byte, len(b))
			if n, _ := af.ReadAt(after, 0); st.Size() != int64(len(b)) || n != len(b) || !bytes.Equal(after, b) {
				t.Fatalf("a refused write changed the file: %s", errs.String())
			}
			return
		}
		if _, err := vhdx.Open(af, st.Size()); err != nil {
			t.Fatalf("write exited %d (%s) and left a file that does not open: %v", code, errs.String(), err)
		}
		if st.Size() > int64(len(b))+64*mib {
			t.Fatalf("write grew a %d-byte file to %d bytes", len(b), st.Size())
		}
	})
}
