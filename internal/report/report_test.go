package report_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

func open(t *testing.T, im *vhdxbuild.Image) *vhdx.Image {
	t.Helper()
	b := im.Bytes()
	img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestTally(t *testing.T) {
	got := report.Tally([]vdisk.Finding{{Severity: vdisk.SeverityError}, {Severity: vdisk.SeverityWarning}, {Severity: vdisk.SeverityError}, {Severity: vdisk.SeverityInfo}})
	if got.Errors != 2 || got.Warnings != 1 || len(got.Findings) != 4 {
		t.Fatalf("Tally = %+v", got)
	}
	b, _ := json.Marshal(report.Tally(nil))
	if string(b) != `{"findings":[],"errors":0,"warnings":0}` {
		t.Fatalf("no findings marshal as %s; findings must be an array", b)
	}
}

func TestTallySortsBySeverityThenOffset(t *testing.T) {
	got := report.Tally([]vdisk.Finding{
		{Code: "a", Severity: vdisk.SeverityInfo, Offset: 5},
		{Code: "b", Severity: vdisk.SeverityError, Offset: -1},
		{Code: "c", Severity: vdisk.SeverityWarning, Offset: 9},
		{Code: "d", Severity: vdisk.SeverityError, Offset: 7},
		{Code: "e", Severity: vdisk.SeverityInfo, Offset: 1},
	}).Findings
	var order string
	for _, f := range got {
		order += f.Code
	}
	if order != "dbcea" {
		t.Fatalf("order %q, want dbcea (errors, warnings, info; by offset, none last)", order)
	}
}

func TestSummarizeDiskTypesAndSizes(t *testing.T) {
	const mib = 1 << 20
	dyn := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 5 * mib})
	dyn.SetBlock(1, vhdxbuild.PayloadFullyPresent, []byte{1})
	dyn.SetBlock(2, vhdxbuild.PayloadZero, nil)
	// Every block present, but the file parameters do not keep them
	// allocated: still a dynamic disk.
	full := vhdxbuild.New(vhdxbuild.Options{VirtualSize: 2 * mib})
	full.SetBlock(0, vhdxbuild.PayloadFullyPresent, []byte{1})
	full.SetBlock(1, vhdxbuild.PayloadFullyPresent, []byte{2})
	cases := []struct {
		name      string
		im        *vhdxbuild.Image
		diskType  string
		allocated int64
		states    map[string]uint64
	}{
		{"dynamic", dyn, "dynamic", mib, map[string]uint64{"fully_present": 1, "zero": 1, "not_present": 3}},
		{"dynamic, all present", full, "dynamic", 2 * mib, map[string]uint64{"fully_present": 2}},
		{"fixed", vhdxbuild.New(vhdxbuild.Options{VirtualSize: 3 * mib, Fixed: true}), "fixed", 3 * mib, map[string]uint64{"fully_present": 3}},
		{"differencing", vhdxbuild.New(vhdxbuild.Options{VirtualSize: 3 * mib, HasParent: true}), "differencing", 0, map[string]uint64{"not_present": 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := report.Summarize(open(t, c.im))
			if err != nil {
				t.Fatal(err)
			}
			if s.DiskType != c.diskType || s.AllocatedSize != c.allocated {
				t.Fatalf("disk type %q, allocated %d; want %q, %d", s.DiskType, s.AllocatedSize, c.diskType, c.allocated)
			}
			for k, v := range c.states {
				if s.BlockStates[k] != v {
					t.Errorf("block_states[%s] = %d, want %d", k, s.BlockStates[k], v)
				}
			}
			if c.diskType == "differencing" && (s.DiskError == "" || len(s.ParentLocator) == 0) {
				t.Errorf("a differencing disk alone: disk_error %q, locator %v", s.DiskError, s.ParentLocator)
			}
		})
	}
}

func TestChainDescribesLayers(t *testing.T) {
	img := open(t, vhdxbuild.New(vhdxbuild.Options{HasParent: true}))
	got := report.Chain([]vhdx.Layer{{Image: img, Name: "child.avhdx"}})
	if len(got) != 1 || got[0].DiskType != "differencing" || got[0].ParentLinkage == "" || got[0].Name != "child.avhdx" {
		t.Fatalf("Chain = %+v", got)
	}
}
