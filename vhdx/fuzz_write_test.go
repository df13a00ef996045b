package vhdx_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// FuzzWrite patches images (a dirty log; blocks in every state; a
// differencing disk with a sector bitmap) structure by structure and
// writes 8 KiB through OpenWriter. A refusal leaves every byte as it was.
// A write that succeeds leaves an image that opens, reads back what was
// written (when it needs no parent) and passes every check that matters
// for writing: no write makes an image worse. Each input allocates less
// than 256 MiB.
func FuzzWrite(f *testing.F) {
	templates()
	tpls := []template{tplDirty, tplRead, tplDiff}
	for i := range tpls {
		f.Add([]byte{byte(i)}, uint16(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		defer func() {
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
				t.Fatalf("allocated %d MiB", n>>20)
			}
		}()
		tpl := tpls[0]
		if len(data) > 0 {
			tpl, data = tpls[int(data[0])%len(tpls)], data[1:]
		}
		file := vb.NewSparseFile()
		file.WriteAt(tpl.im.Patch(tpl.b, data), 0)
		hash, size := file.Hash(), file.Size()
		w, err := vhdx.OpenWriter(file, size)
		if err != nil {
			if file.Hash() != hash || file.Size() != size {
				t.Fatalf("OpenWriter failed (%v) and changed the file", err)
			}
			return
		}
		m := w.Image().Metadata
		p := pattern(8192, uint64(at))
		off := int64(at) * 4096 % int64(m.VirtualSize) &^ 4095
		_, werr := w.WriteAt(p[:min(int64(len(p)), int64(m.VirtualSize)-off)], off)
		if cerr := w.Close(); werr == nil {
			werr = cerr
		}
		img, err := vhdx.Open(file, file.Size())
		if err != nil {
			t.Fatalf("the written image does not open: %v (write: %v)", err, werr)
		}
		if werr != nil {
			return
		}
		w2, err := vhdx.OpenWriter(file, file.Size())
		var re *vhdx.RefusalError
		if errors.As(err, &re) {
			t.Fatalf("the write made the image unsafe to write: %v", err)
		}
		if err == nil {
			w2.Close()
		}
		if d, err := img.Disk(); err == nil {
			got := make([]byte, min(int64(len(p)), d.Size()-off))
			if _, err := d.ReadAt(got, off); err != nil || !bytes.Equal(got, p[:len(got)]) {
				t.Fatalf("reading back the write at %#x: %v, equal %t", off, err, bytes.Equal(got, p[:len(got)]))
			}
		}
	})
}
