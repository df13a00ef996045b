package vhdx_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// streamed writes src with WriteImage and opens the result.
func streamed(t *testing.T, src vhdx.Source, opt vhdx.CreateOptions) ([]byte, *vhdx.Image, *vhdx.Disk) {
	t.Helper()
	var out bytes.Buffer
	var last, total int64
	n, err := vhdx.WriteImage(&out, src, opt, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(out.Len()) || last != n || total != n {
		t.Fatalf("WriteImage returned %d, wrote %d, last progress %d of %d", n, out.Len(), last, total)
	}
	img, err := vhdx.Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range img.Check() {
		if f.Severity != vhdx.SeverityInfo {
			t.Errorf("streamed image: %s %s: %s", f.Severity, f.Code, f.Message)
		}
	}
	d, err := img.Disk()
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), img, d
}

func TestWriteImageMergesChain(t *testing.T) {
	files, want := threeLevels()
	chain, err := vhdx.OpenChain(files.open(t, "top.vhdx"), "top.vhdx", files.resolve)
	if err != nil {
		t.Fatal(err)
	}
	_, img, d := streamed(t, chain, vhdx.CreateOptions{BlockSize: 1 << 20})
	if img.Metadata.HasParent {
		t.Fatal("the merged image has a parent")
	}
	if got := readAll(t, d); !bytes.Equal(got, want) {
		t.Fatalf("merged content: %s", firstDiff(got, want))
	}
	// Blocks 1, 2, 3 hold data; block 0 is zero in the top layer.
	blocks, _, err := img.BAT.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if blocks[vhdx.FullyPresent] != 3 || blocks[vhdx.NotPresent] != 5 {
		t.Fatalf("merged block states: %v", blocks.Map())
	}
}

func TestWriteImageLeavesZeroBlocksOut(t *testing.T) {
	const mib = 1 << 20
	im := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 6*mib + 4096, BlockSize: 2 * mib, LogicalSectorSize: 4096})
	im.SetBlock(0, vhdxbuild.PayloadFullyPresent, make([]byte, 2*mib)) // stored, but all zeros
	tail := bytes.Repeat([]byte{7}, 4096)
	im.SetBlock(3, vhdxbuild.PayloadFullyPresent, tail) // the partial last block
	b := im.Bytes()
	src, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := src.Disk()
	if err != nil {
		t.Fatal(err)
	}
	_, img, d := streamed(t, sd, vhdx.CreateOptions{BlockSize: 2 * mib, LogicalSectorSize: 4096})
	if got, want := readAll(t, d), readAll(t, sd); !bytes.Equal(got, want) {
		t.Fatalf("content: %s", firstDiff(got, want))
	}
	blocks, _, _ := img.BAT.Counts()
	if blocks[vhdx.FullyPresent] != 1 {
		t.Fatalf("want only the last block stored, got %v", blocks.Map())
	}
	if img.Metadata.LogicalSectorSize != 4096 || img.Metadata.VirtualSize != 6*mib+4096 {
		t.Fatalf("geometry: %d-byte sectors, %d bytes", img.Metadata.LogicalSectorSize, img.Metadata.VirtualSize)
	}
}

func TestWriteImageFixedAndQEMU(t *testing.T) {
	files, want := threeLevels()
	chain, err := vhdx.OpenChain(files.open(t, "top.vhdx"), "top.vhdx", files.resolve)
	if err != nil {
		t.Fatal(err)
	}
	out, img, d := streamed(t, chain, vhdx.CreateOptions{Fixed: true, BlockSize: 1 << 20})
	if blocks, _, _ := img.BAT.Counts(); blocks[vhdx.FullyPresent] != 8 || !img.Metadata.LeaveBlocksAllocated {
		t.Fatalf("fixed image: %v, leave allocated %v", blocks.Map(), img.Metadata.LeaveBlocksAllocated)
	}
	if got := readAll(t, d); !bytes.Equal(got, want) {
		t.Fatalf("fixed content: %s", firstDiff(got, want))
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed: the cross-check against QEMU was not run")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "merged.vhdx")
	os.WriteFile(p, out, 0o644)
	if b, err := exec.Command("qemu-img", "check", "-f", "vhdx", p).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img check: %v\n%s", err, b)
	}
	raw := filepath.Join(dir, "merged.raw")
	if b, err := exec.Command("qemu-img", "convert", "-f", "vhdx", "-O", "raw", p, raw).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, b)
	}
	if got, _ := os.ReadFile(raw); !bytes.Equal(got, want) {
		t.Fatalf("qemu reads the streamed image differently: %s", firstDiff(got, want))
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriteImageReportsWriteErrors(t *testing.T) {
	files, _ := threeLevels()
	chain, err := vhdx.OpenChain(files.open(t, "top.vhdx"), "top.vhdx", files.resolve)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vhdx.WriteImage(&failingWriter{left: 3 << 20}, chain, vhdx.CreateOptions{}, nil)
	if err == nil || n != 3<<20 {
		t.Fatalf("WriteImage to a full disk = %d, %v", n, err)
	}
	if _, err := vhdx.WriteImage(&bytes.Buffer{}, chain, vhdx.CreateOptions{BlockSize: 3 << 20}, nil); !errors.Is(err, vhdx.ErrInvalidOptions) {
		t.Fatalf("bad block size: %v", err)
	}
}

func TestWriteImageFindsDataAfterZeroRangeInBlock(t *testing.T) {
	// Block 0 reads as the child's zero sectors, then the parent's bytes:
	// two data ranges in one block, the first all zeros.
	const mib = 1 << 20
	files := chainFiles{}
	base := withDataWrite(vhdxbuild.New(vhdxbuild.Options{VirtualSize: 2 * mib}), baseGUID)
	half := append(make([]byte, mib/2), bytes.Repeat([]byte{9}, mib/2)...)
	base.SetBlock(0, vhdxbuild.PayloadFullyPresent, half)
	top := withDataWrite(vhdxbuild.New(vhdxbuild.Options{VirtualSize: 2 * mib, HasParent: true, ParentLocator: []vhdxbuild.KeyValue{
		{Key: "parent_linkage", Value: vhdxbuild.FormatParentLinkage(baseGUID)}, {Key: "relative_path", Value: "base.vhdx"}}}), topGUID)
	top.SetBlock(0, vhdxbuild.PayloadPartiallyPresent, nil)
	top.MarkSectorsPresent(0, 8)
	files["base.vhdx"], files["top.vhdx"] = base.Bytes(), top.Bytes()
	chain, err := vhdx.OpenChain(files.open(t, "top.vhdx"), "top.vhdx", files.resolve)
	if err != nil {
		t.Fatal(err)
	}
	_, _, d := streamed(t, chain, vhdx.CreateOptions{BlockSize: 2 * mib})
	if got, want := readAll(t, d), readAll(t, chain); !bytes.Equal(got, want) {
		t.Fatalf("merged content: %s", firstDiff(got, want))
	}
}
