package disktest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// SfdiskTable is what `sfdisk --json` prints of a disk: start and size in
// sectors, type as sfdisk prints it.
type SfdiskTable struct {
	PartitionTable struct {
		Label      string `json:"label"`
		Device     string `json:"device"`
		SectorSize int    `json:"sectorsize"`
		Partitions []struct {
			Node     string `json:"node"`
			Start    int64  `json:"start"`
			Size     int64  `json:"size"`
			Type     string `json:"type"`
			UUID     string `json:"uuid"`
			Name     string `json:"name"`
			Attrs    string `json:"attrs"`
			Bootable bool   `json:"bootable"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

// Sfdisk runs `sfdisk --json` on the disk image at path, failing the test
// when sfdisk fails or prints no table.
func Sfdisk(t testing.TB, path string) SfdiskTable {
	t.Helper()
	return parseSfdisk(t, Run(t, "sfdisk", "--json", path))
}

// SfdiskIfAny is Sfdisk for a disk that may hold no partition table: then
// (sfdisk fails) the table is empty.
func SfdiskIfAny(t testing.TB, path string) SfdiskTable {
	t.Helper()
	out, err := exec.Command("sfdisk", "--json", path).Output()
	if err != nil {
		return SfdiskTable{}
	}
	return parseSfdisk(t, string(out))
}

// parseSfdisk decodes sfdisk's JSON, after the warnings (e.g. about a bad
// primary GPT) it may print first.
func parseSfdisk(t testing.TB, out string) SfdiskTable {
	t.Helper()
	var st SfdiskTable
	i := strings.Index(out, "{")
	if i < 0 {
		t.Fatalf("sfdisk --json printed no table:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out[i:]), &st); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	return st
}
