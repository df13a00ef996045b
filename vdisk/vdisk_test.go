package vdisk_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

const mib = 1 << 20

func TestIdentify(t *testing.T) {
	vhd := make([]byte, 4096)
	copy(vhd[len(vhd)-512:], "conectix")
	vdi := make([]byte, 512)
	copy(vdi[64:], "\x7f\x10\xda\xbe")
	qcow1 := append([]byte("QFI\xfb\x00\x00\x00\x01"), make([]byte, 100)...)
	cases := []struct {
		name    string
		data    []byte
		want    vdisk.Format
		whatHas string // the start of UnsupportedError.What, "" for no error
	}{
		{"a.vhdx", vhdxbuild.New(vhdxbuild.Options{VirtualSize: mib}).Bytes(), vdisk.VHDX, ""},
		{"renamed.bin", []byte("vhdxfile rest"), vdisk.VHDX, ""},
		{"a.qcow2", append([]byte("QFI\xfb\x00\x00\x00\x03"), make([]byte, 100)...), vdisk.QCOW2, ""},
		{"disk.IMG", make([]byte, 1024), vdisk.Raw, ""},
		{`C:\evidence\disk.dd`, make([]byte, 1024), vdisk.Raw, ""},
		{"empty.raw", nil, vdisk.Raw, ""},
		{"old.vhd", vhd, "", "a VHD"},
		{"box.vdi", vdi, "", "a VDI"},
		{"x.vmdk", []byte("KDMV\x01\x00\x00\x00"), "", "a VMDK"},
		{"x.vmdk", []byte("# Disk DescriptorFile\nversion=1\n"), "", "a VMDK"},
		{"old.qcow", qcow1, "", "a qcow (version 1)"},
		{"disk.vhdx.gz", []byte("\x1f\x8b\x08\x00"), "", "a gzip"},
		{"mystery", []byte("hello world"), "", ""},
	}
	for _, c := range cases {
		got, err := vdisk.Identify(bytes.NewReader(c.data), int64(len(c.data)), c.name)
		if c.want != "" {
			if err != nil || got != c.want {
				t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
			}
			continue
		}
		var ue *vdisk.UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, vdisk.ErrUnknownFormat) {
			t.Errorf("%s: got %q, %v; want an *UnsupportedError", c.name, got, err)
			continue
		}
		if !strings.HasPrefix(ue.What, c.whatHas) || (c.whatHas == "") != (ue.What == "") {
			t.Errorf("%s: says it is %q, want %q...", c.name, ue.What, c.whatHas)
		}
		if !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: the error %q does not name the file", c.name, err)
		}
	}
}

func TestRawDisk(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	img, err := vdisk.Open(bytes.NewReader(data), int64(len(data)), "disk.bin", vdisk.Options{Format: vdisk.Raw})
	if err != nil {
		t.Fatal(err)
	}
	if img.Format != vdisk.Raw || img.Native() != nil || img.Fields() != nil || img.Check() != nil || img.References() != nil {
		t.Fatalf("raw image: format %q, native %v", img.Format, img.Native())
	}
	d, err := img.OpenDisk(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := d.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("WriteTo: %v, equal %t", err, bytes.Equal(out.Bytes(), data))
	}
	p := make([]byte, 100)
	if n, err := d.ReadAt(p, int64(len(data))-10); n != 10 || err != io.EOF {
		t.Fatalf("read over the end: %d, %v", n, err)
	}
	if _, err := d.ReadAt(p, int64(len(data))); err == nil {
		t.Fatal("read at the end succeeded")
	}
	var ext []vdisk.Extent
	d.Runs(100, 50, func(e vdisk.Extent) error { ext = append(ext, e); return nil })
	if len(ext) != 1 || ext[0] != (vdisk.Extent{Start: 100, Length: 50, State: "data", Stored: true, FileOffset: 100}) {
		t.Fatalf("runs: %+v", ext)
	}
	if err := d.Runs(int64(len(data))-1, 2, func(vdisk.Extent) error { return nil }); err == nil {
		t.Fatal("Runs past the end succeeded")
	}
	if _, err := img.OpenDisk(nil, "snap1"); err == nil {
		t.Fatal("a raw image opened a snapshot")
	}
}

// chain builds base <- child where the child expects its parent at
// ..\base\base.vhdx, and returns both files' bytes and the expected disk.
func chain(t *testing.T) (base, child, want []byte) {
	data := uuid.MustParse("0a0a0a0a-0000-4000-8000-000000000001")
	b := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib})
	b.Headers[0].DataWriteGUID, b.Headers[1].DataWriteGUID = data, data
	want = make([]byte, 4*mib)
	a := bytes.Repeat([]byte{0xa1}, mib)
	b.SetBlock(1, vhdxbuild.PayloadFullyPresent, a)
	copy(want[mib:], a)
	c := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib, HasParent: true, ParentLocator: []vhdxbuild.KeyValue{
		{Key: "parent_linkage", Value: vhdxbuild.FormatParentLinkage(data)},
		{Key: "relative_path", Value: `..\base\base.vhdx`},
	}})
	x := bytes.Repeat([]byte{0xc2}, mib)
	c.SetBlock(2, vhdxbuild.PayloadFullyPresent, x)
	copy(want[2*mib:], x)
	return b.Bytes(), c.Bytes(), want
}

func TestVHDXChain(t *testing.T) {
	base, child, want := chain(t)
	img, err := vdisk.Open(bytes.NewReader(child), int64(len(child)), "vm/child.avhdx", vdisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.Native().(*vhdx.Image); !ok || img.Format != vdisk.VHDX || len(img.Fields()) == 0 {
		t.Fatalf("format %q, native %T, %d fields", img.Format, img.Native(), len(img.Fields()))
	}
	refs := img.References()
	if len(refs) != 1 || refs[0].Role != vdisk.RoleParent || refs[0].Name != "base.vhdx" || refs[0].Paths[0] != "../base/base.vhdx" {
		t.Fatalf("references: %+v", refs)
	}
	var asked []vdisk.Reference
	resolve := func(from string, ref vdisk.Reference) (io.ReaderAt, int64, string, error) {
		asked = append(asked, ref)
		if from != "vm/child.avhdx" {
			t.Errorf("resolver asked from %q", from)
		}
		return bytes.NewReader(base), int64(len(base)), "base/base.vhdx", nil
	}
	d, err := img.OpenDisk(resolve, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0].Name != "base.vhdx" {
		t.Fatalf("resolver was asked %+v", asked)
	}
	got := make([]byte, d.Size())
	if _, err := d.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read: %v, equal %t", err, bytes.Equal(got, want))
	}
	l := d.Layers()
	if len(l) != 2 || l[0].Role != vdisk.RoleImage || l[1].Role != vdisk.RoleParent || l[1].Name != "base/base.vhdx" || l[1].Image.Format != vdisk.VHDX {
		t.Fatalf("layers: %+v", l)
	}
	var ext []vdisk.Extent
	if err := d.Extents(func(e vdisk.Extent) error { ext = append(ext, e); return nil }); err != nil {
		t.Fatal(err)
	}
	// block 0 unallocated in both, block 1 from the base, block 2 from the child, block 3 nowhere
	if len(ext) != 4 || ext[1].Layer != 1 || !ext[1].Stored || ext[2].Layer != 0 || !ext[2].Stored || ext[3].Stored {
		t.Fatalf("extents: %+v", ext)
	}
	for _, f := range d.Check() {
		if f.Severity == vdisk.SeverityError {
			t.Errorf("finding in a clean chain: %+v", f)
		}
	}
}

func TestVHDXChainErrors(t *testing.T) {
	_, child, _ := chain(t)
	img, err := vdisk.Open(bytes.NewReader(child), int64(len(child)), "child.avhdx", vdisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	missing := func(string, vdisk.Reference) (io.ReaderAt, int64, string, error) {
		return nil, 0, "", errors.New("no file there")
	}
	other := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib}).Bytes()
	cases := []struct {
		resolve vdisk.Resolver
		code    string
		sent    error
	}{
		{missing, "chain.parent_missing", vdisk.ErrMissing},
		{nil, "chain.parent_missing", vdisk.ErrMissing},
		{func(string, vdisk.Reference) (io.ReaderAt, int64, string, error) {
			return bytes.NewReader(other), int64(len(other)), "other.vhdx", nil
		}, "chain.parent_mismatch", vdisk.ErrMismatch},
		{func(string, vdisk.Reference) (io.ReaderAt, int64, string, error) {
			return bytes.NewReader(child), int64(len(child)), "child.avhdx", nil
		}, "chain.parent_mismatch", vdisk.ErrMismatch}, // the child is not its own parent's data
	}
	for i, c := range cases {
		_, err := img.OpenDisk(c.resolve, "")
		var ce *vdisk.ChainError
		if !errors.As(err, &ce) || !errors.Is(err, c.sent) || ce.Code() != c.code {
			t.Errorf("case %d: %v; want %s", i, err, c.code)
			continue
		}
		if !errors.Is(err, vhdx.ErrParentNotFound) && !errors.Is(err, vhdx.ErrParentMismatch) {
			t.Errorf("case %d: the vhdx error is not wrapped: %v", i, err)
		}
		if ce.Ref.Name == "" || len(ce.Found) != 1 || ce.Found[0].Name != "child.avhdx" {
			t.Errorf("case %d: ref %+v, found %+v", i, ce.Ref, ce.Found)
		}
	}
}

// gunzipFixture reads a gzip'd fixture of testdata/qcow2.
func gunzipFixture(t *testing.T, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "qcow2", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The layers of a qcow2 chain are images too; a raw one (a backing or data
// file) cannot be read alone through the chain's Layer, and says so
// instead of failing on a reader it does not have.
func TestQCOW2ChainLayers(t *testing.T) {
	files := map[string][]byte{}
	for _, n := range []string{"Top.qcow2", "mid.qcow2", "base.img", "top.data"} {
		files[n] = gunzipFixture(t, "chain/"+n+".gz")
	}
	top := files["Top.qcow2"]
	img, err := vdisk.Open(bytes.NewReader(top), int64(len(top)), "Top.qcow2", vdisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.OpenDisk(func(_ string, ref vdisk.Reference) (io.ReaderAt, int64, string, error) {
		b, ok := files[ref.Name]
		if !ok {
			return nil, 0, "", errors.New("no such file")
		}
		return bytes.NewReader(b), int64(len(b)), ref.Name, nil
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range d.Layers() {
		got = append(got, fmt.Sprintf("%s:%s:%s", l.Name, l.Role, l.Image.Format))
		if l.Image.Format != vdisk.Raw {
			continue
		}
		if _, err := l.Image.OpenDisk(nil, ""); err == nil || !strings.Contains(err.Error(), "open the file itself") {
			t.Errorf("%s: OpenDisk of a raw layer: %v", l.Name, err)
		}
	}
	if want := "Top.qcow2:image:qcow2 top.data:data file:raw mid.qcow2:backing file:qcow2 base.img:backing file:raw"; strings.Join(got, " ") != want {
		t.Errorf("layers %s, want %s", strings.Join(got, " "), want)
	}
}
