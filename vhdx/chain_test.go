package vhdx_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// chainFiles is an in-memory folder of images that resolves parents by the
// locator's relative_path.
type chainFiles map[string][]byte

func (f chainFiles) resolve(child string, loc *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
	name, _ := loc.Get("relative_path")
	b, ok := f[name]
	if !ok {
		return nil, 0, "", fmt.Errorf("no file %q", name)
	}
	return bytes.NewReader(b), int64(len(b)), name, nil
}

func (f chainFiles) open(t *testing.T, name string) *vhdx.Image {
	t.Helper()
	img, err := vhdx.Open(bytes.NewReader(f[name]), int64(len(f[name])))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// withDataWrite gives both headers of im the DataWriteGUID g.
func withDataWrite(im *vhdxbuild.Image, g uuid.UUID) *vhdxbuild.Image {
	im.Headers[0].DataWriteGUID, im.Headers[1].DataWriteGUID = g, g
	return im
}

func child(parent string, linkage uuid.UUID, extra ...vhdxbuild.KeyValue) vhdxbuild.Options {
	return vhdxbuild.Options{VirtualSize: 8 << 20, HasParent: true, ParentLocator: append([]vhdxbuild.KeyValue{
		{Key: "parent_linkage", Value: vhdxbuild.FormatParentLinkage(linkage)},
		{Key: "relative_path", Value: parent},
	}, extra...)}
}

var (
	baseGUID   = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	middleGUID = uuid.MustParse("22222222-2222-4222-8222-222222222222")
	topGUID    = uuid.MustParse("33333333-3333-4333-8333-333333333333")
)

// threeLevels builds base <- middle <- top with 1 MiB blocks and returns
// the files and the expected virtual disk.
func threeLevels() (chainFiles, []byte) {
	const mib = 1 << 20
	want := make([]byte, 8*mib)
	fill := func(b byte) []byte { return bytes.Repeat([]byte{b}, mib) }

	base := withDataWrite(vhdxbuild.New(vhdxbuild.Options{VirtualSize: 8 * mib}), baseGUID)
	for blk, v := range map[int]byte{0: 0xa0, 1: 0xa1, 2: 0xa2} {
		base.SetBlock(blk, vhdxbuild.PayloadFullyPresent, fill(v))
		copy(want[blk*mib:], fill(v))
	}
	middle := withDataWrite(vhdxbuild.New(child("base.vhdx", baseGUID)), middleGUID)
	middle.SetBlock(1, vhdxbuild.PayloadPartiallyPresent, fill(0xb1)) // sectors 0-7 present
	middle.MarkSectorsPresent(2048, 8)
	copy(want[1*mib:1*mib+4096], fill(0xb1))
	middle.SetBlock(3, vhdxbuild.PayloadFullyPresent, fill(0xb3))
	copy(want[3*mib:], fill(0xb3))

	top := withDataWrite(vhdxbuild.New(child("middle.vhdx", middleGUID)), topGUID)
	top.SetBlock(0, vhdxbuild.PayloadZero, nil)
	clear(want[:mib])
	top.SetBlock(1, vhdxbuild.PayloadPartiallyPresent, fill(0xc1)) // sectors 4-11 present
	top.MarkSectorsPresent(2048+4, 8)
	copy(want[1*mib+4*512:1*mib+12*512], fill(0xc1))
	return chainFiles{"base.vhdx": base.Bytes(), "middle.vhdx": middle.Bytes(), "top.vhdx": top.Bytes()}, want
}

func TestChainReadsThroughThreeLevels(t *testing.T) {
	files, want := threeLevels()
	d, err := vhdx.OpenChain(files.open(t, "top.vhdx"), "top.vhdx", files.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if names := fmt.Sprint(layerNames(d)); names != "[top.vhdx middle.vhdx base.vhdx]" {
		t.Fatalf("layers = %s", names)
	}
	got := make([]byte, d.Size())
	if _, err := d.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("chain content wrong: %s", firstDiff(got, want))
	}
	// Unaligned reads inside the partially present block.
	for _, r := range [][2]int64{{1<<20 + 3, 5000}, {1<<20 + 2047, 3}, {1<<20 + 6100, 1}} {
		p := make([]byte, r[1])
		if _, err := d.ReadAt(p, r[0]); err != nil || !bytes.Equal(p, want[r[0]:r[0]+r[1]]) {
			t.Fatalf("ReadAt(%d, %d) wrong (err %v)", r[1], r[0], err)
		}
	}
}

func TestChainSaysWhichLayerSuppliesEachSector(t *testing.T) {
	files, _ := threeLevels()
	d, err := vhdx.OpenChain(files.open(t, "top.vhdx"), "top.vhdx", files.resolve)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = d.Runs(1<<20, 16*512, func(e vhdx.Extent) error {
		got = append(got, fmt.Sprintf("%d+%d:L%d:%s", e.Start-1<<20, e.Length, e.Layer, e.State))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[0+2048:L1:partially_present 2048+4096:L0:partially_present 6144+2048:L2:fully_present]"
	if fmt.Sprint(got) != want {
		t.Fatalf("runs = %v\nwant   %s", got, want)
	}
	var whole []string
	d.Extents(func(e vhdx.Extent) error {
		whole = append(whole, fmt.Sprintf("L%d:%s", e.Layer, e.State))
		return nil
	})
	if whole[0] != "L0:zero" || whole[len(whole)-1] != "L2:not_present" {
		t.Fatalf("extents = %v", whole)
	}
}

func layerNames(d *vhdx.Disk) []string {
	var out []string
	for _, l := range d.Layers() {
		out = append(out, l.Name)
	}
	return out
}

func TestChainErrorsNameBothFiles(t *testing.T) {
	base := func(o vhdxbuild.Options) []byte {
		return withDataWrite(vhdxbuild.New(o), baseGUID).Bytes()
	}
	childOf := func(o vhdxbuild.Options) []byte { return withDataWrite(vhdxbuild.New(o), topGUID).Bytes() }
	cases := []struct {
		name  string
		files chainFiles
		want  error
		text  string
	}{
		{"missing parent", chainFiles{"top.vhdx": childOf(child("base.vhdx", baseGUID))}, vhdx.ErrParentNotFound, "top.vhdx -> base.vhdx"},
		{"linkage mismatch", chainFiles{"top.vhdx": childOf(child("base.vhdx", middleGUID)), "base.vhdx": base(vhdxbuild.Options{VirtualSize: 8 << 20})}, vhdx.ErrParentMismatch, "parent_linkage"},
		{"virtual size", chainFiles{"top.vhdx": childOf(child("base.vhdx", baseGUID)), "base.vhdx": base(vhdxbuild.Options{VirtualSize: 16 << 20})}, vhdx.ErrParentMismatch, "virtual sizes differ"},
		{"sector size", chainFiles{"top.vhdx": childOf(child("base.vhdx", baseGUID)), "base.vhdx": base(vhdxbuild.Options{VirtualSize: 8 << 20, LogicalSectorSize: 4096})}, vhdx.ErrParentMismatch, "logical sector sizes differ"},
		{"loop", chainFiles{"top.vhdx": childOf(child("top.vhdx", topGUID))}, vhdx.ErrChainLoop, "already in the chain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := vhdx.OpenChain(c.files.open(t, "top.vhdx"), "top.vhdx", c.files.resolve)
			var ce *vhdx.ChainError
			if !errors.Is(err, c.want) || !errors.As(err, &ce) || !bytes.Contains([]byte(err.Error()), []byte(c.text)) {
				t.Fatalf("OpenChain = %v, want %v mentioning %q", err, c.want, c.text)
			}
		})
	}
}

func TestChainAcceptsParentLinkage2(t *testing.T) {
	// Hyper-V writes parent_linkage2; a parent matching only it is accepted,
	// and a zero-GUID parent_linkage2 next to a matching linkage is harmless.
	files := chainFiles{
		"base.vhdx": withDataWrite(vhdxbuild.New(vhdxbuild.Options{VirtualSize: 8 << 20}), baseGUID).Bytes(),
		"a.vhdx":    withDataWrite(vhdxbuild.New(child("base.vhdx", middleGUID, vhdxbuild.KeyValue{Key: "parent_linkage2", Value: vhdxbuild.FormatParentLinkage(baseGUID)})), topGUID).Bytes(),
		"b.vhdx":    withDataWrite(vhdxbuild.New(child("base.vhdx", baseGUID, vhdxbuild.KeyValue{Key: "parent_linkage2", Value: vhdxbuild.FormatParentLinkage(uuid.Nil)})), topGUID).Bytes(),
	}
	for _, name := range []string{"a.vhdx", "b.vhdx"} {
		if _, err := vhdx.OpenChain(files.open(t, name), name, files.resolve); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestChainDepthIsLimited(t *testing.T) {
	// Every level names a new parent: the resolver never runs out.
	n := 0
	resolve := func(string, *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
		n++
		b := withDataWrite(vhdxbuild.New(child(fmt.Sprintf("p%d.vhdx", n+1), topGUID)), topGUID).Bytes()
		return bytes.NewReader(b), int64(len(b)), fmt.Sprintf("p%d.vhdx", n), nil
	}
	top := withDataWrite(vhdxbuild.New(child("p1.vhdx", topGUID)), topGUID).Bytes()
	img, err := vhdx.Open(bytes.NewReader(top), int64(len(top)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vhdx.OpenChain(img, "top.vhdx", resolve); !errors.Is(err, vhdx.ErrChainTooDeep) {
		t.Fatalf("OpenChain = %v, want ErrChainTooDeep", err)
	}
	if n != vhdx.MaxChainDepth-1 {
		t.Fatalf("resolver called %d times, want %d", n, vhdx.MaxChainDepth-1)
	}
}

func TestExpectedParentName(t *testing.T) {
	b := vhdxbuild.New(child(`..\disks\Base Disk.vhdx`, baseGUID)).Bytes()
	img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := vhdx.ExpectedParentName(img); got != "Base Disk.vhdx" {
		t.Fatalf("ExpectedParentName = %q", got)
	}
}

// A child whose parent is missing still maps: its own blocks, and the
// ranges that need the parent as extents of the missing layer; only reads
// of those fail.
func TestPartialDiskWithMissingParent(t *testing.T) {
	const mib = 1 << 20
	child := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 4 * mib, HasParent: true, ParentLocator: []vhdxbuild.KeyValue{
		{Key: "parent_linkage", Value: vhdxbuild.FormatParentLinkage(vhdxbuild.DefaultParentLinkage)},
		{Key: "relative_path", Value: `base.vhdx`},
	}})
	own := bytes.Repeat([]byte{0xc2}, mib)
	child.SetBlock(2, vhdxbuild.PayloadFullyPresent, own)
	img := openBytes(t, child.Bytes())
	_, err := vhdx.OpenChain(img, "child.avhdx", func(string, *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
		return nil, 0, "", errors.New("gone")
	})
	var ce *vhdx.ChainError
	if !errors.As(err, &ce) || !errors.Is(err, vhdx.ErrParentNotFound) || ce.Partial == nil {
		t.Fatalf("OpenChain: %v", err)
	}
	d := ce.Partial
	var got []vhdx.Extent
	if err := d.Extents(func(e vhdx.Extent) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []vhdx.Extent{
		{Start: 0, Length: 2 * mib, State: vhdx.NotPresent, Layer: 1},
		{Start: 2 * mib, Length: mib, State: vhdx.FullyPresent, Layer: 0, FileOffset: got[1].FileOffset},
		{Start: 3 * mib, Length: mib, State: vhdx.NotPresent, Layer: 1},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("extents %+v, want %+v", got, want)
	}
	p := make([]byte, mib)
	if _, err := d.ReadAt(p, 2*mib); err != nil || !bytes.Equal(p, own) {
		t.Fatalf("reading the child's own block: %v", err)
	}
	if _, err := d.ReadAt(p, 0); !errors.Is(err, vhdx.ErrParentNotFound) || !strings.Contains(err.Error(), "base.vhdx") {
		t.Fatalf("reading a range that needs the parent: %v", err)
	}
}
