package partition

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// TestLVMAgainstPvck has LVM's pvck check the built PV's headers and
// extract its metadata, and blkid identify it; ReadLVM must agree.
func TestLVMAgainstPvck(t *testing.T) {
	disktest.Need(t, "pvck", "blkid")
	path, pv := disktest.BuildPV(t)
	out := disktest.Run(t, "pvck", "--dump", "headers", path)
	if strings.Contains(out, "CHECK:") || !strings.Contains(out, "mda_header_1.magic") {
		t.Fatalf("pvck finds problems in the built PV:\n%s", out)
	}
	dumped := filepath.Join(t.TempDir(), "meta.txt")
	disktest.Run(t, "pvck", "--dump", "metadata", "-f", dumped, path)
	want, err := os.ReadFile(dumped)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Findings) != 0 || len(l.Metadata) != 1 {
		t.Fatalf("findings %+v, %d metadata areas", l.Findings, len(l.Metadata))
	}
	if strings.TrimRight(l.Metadata[0].Text, "\x00\n") != strings.TrimRight(string(want), "\x00\n") {
		t.Errorf("metadata text differs from pvck's:\n%s\n---\n%s", l.Metadata[0].Text, want)
	}
	for _, field := range []string{"pv_header.pv_uuid " + disktest.PVUUID, fmt.Sprintf("pv_header.device_size %d", len(pv)), fmt.Sprintf("mda_header_1.start %d", disktest.PVMDAOffset)} {
		if !strings.Contains(out, field) {
			t.Errorf("pvck does not print %q", field)
		}
	}
	// The fields sit where pvck says the structures are.
	for _, fl := range l.Fields() {
		if fl.Name == "signature" && string(pv[fl.Offset:fl.Offset+8]) != "LABELONE" {
			t.Errorf("label field at %d", fl.Offset)
		}
		if fl.Name == "magic" && !strings.Contains(out, fmt.Sprintf("mda_header_1 at %d", fl.Offset-4)) {
			t.Errorf("metadata area header field at %d; pvck:\n%s", fl.Offset, out)
		}
	}
	b := disktest.Run(t, "blkid", "-p", "-o", "value", "-s", "UUID", path)
	if l.PV.UUID != strings.TrimSpace(b) {
		t.Errorf("PV UUID %s, blkid %s", l.PV.UUID, b)
	}
	info, err := filesystem.Probe(bytes.NewReader(pv), int64(len(pv)))
	if err != nil || info.Type != filesystem.TypeLVM2 || info.UUID != l.PV.UUID || !info.Container {
		t.Errorf("Probe: %+v, %v", info, err)
	}
}

// TestLVMVolumes checks the volume group and reads each LV through its
// segments: every extent read must be the PV extent the metadata names.
func TestLVMVolumes(t *testing.T) {
	_, pv := disktest.BuildPV(t)
	l, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
	if err != nil {
		t.Fatal(err)
	}
	vg := l.VG
	if vg == nil || vg.Name != "testvg" || vg.Seqno != 7 || vg.ExtentSize != disktest.PVExtent || l.PVName != "pv0" || len(vg.LogicalVolumes) != 4 {
		t.Fatalf("volume group %+v, PV %q", vg, l.PVName)
	}
	// LV extent -> PV extent, from the metadata above.
	mapping := map[string][]int{"root": {0, 1, 2, 3}, "data": {10, 11, 4, 5, 6}}
	for _, lv := range vg.LogicalVolumes[:2] {
		r, err := l.Open(bytes.NewReader(pv), lv)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != int64(len(mapping[lv.Name]))*disktest.PVExtent {
			t.Errorf("LV %s size %d", lv.Name, r.Size())
		}
		for i, e := range mapping[lv.Name] {
			got := make([]byte, 18)
			if _, err := r.ReadAt(got, int64(i)*disktest.PVExtent+64<<10); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("extent %02d chunk 01", e); string(got) != want {
				t.Errorf("LV %s extent %d reads %q, want %q", lv.Name, i, got, want)
			}
		}
	}
	ext, err := l.Extents(vg.LogicalVolumes[1])
	if err != nil || len(ext) != 2 || ext[0].PVOffset != disktest.PVPEStart+10*disktest.PVExtent || ext[1].LVOffset != 2*disktest.PVExtent || ext[1].Length != 3*disktest.PVExtent {
		t.Errorf("data extents %+v, %v", ext, err)
	}
	// Striped: 64 KiB chunks alternate between PV extents 12 and 20.
	r, err := l.Open(bytes.NewReader(pv), vg.LogicalVolumes[2])
	if err != nil {
		t.Fatal(err)
	}
	for chunk, want := range []string{"extent 12 chunk 00", "extent 20 chunk 00", "extent 12 chunk 01", "extent 20 chunk 01"} {
		got := make([]byte, 18)
		if _, err := r.ReadAt(got, int64(chunk)*64<<10); err != nil || string(got) != want {
			t.Errorf("striped chunk %d reads %q (%v), want %q", chunk, got, err, want)
		}
	}
	if _, err := l.Open(bytes.NewReader(pv), vg.LogicalVolumes[3]); !errors.Is(err, ErrUnsupported) {
		t.Errorf("thin pool: %v, want ErrUnsupported", err)
	}
}

// TestLVMDamaged: a wrong metadata checksum is a finding and leaves no
// volume group; no label is ErrNotLVM.
func TestLVMDamaged(t *testing.T) {
	_, pv := disktest.BuildPV(t)
	pv[disktest.PVMDAOffset+512+3] ^= 1
	l, err := ReadLVM(bytes.NewReader(pv), int64(len(pv)))
	if err != nil || l.VG != nil || len(l.Findings) != 1 || l.Findings[0].Code != "lvm.metadata" {
		t.Fatalf("%v; %+v", err, l)
	}
	if _, err := ReadLVM(bytes.NewReader(make([]byte, 4096)), 4096); !errors.Is(err, ErrNotLVM) {
		t.Fatalf("%v, want ErrNotLVM", err)
	}
}
