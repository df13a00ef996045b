package hostile

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// qemuJSON runs qemu-img with args (--output=json among them) on the image
// at path, opened without its backing file, and decodes what it prints;
// qemu-img check exits 2 when it finds corruptions, which is no failure.
func qemuJSON(t *testing.T, v any, path string, args ...string) {
	t.Helper()
	qemu, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Fatal("qemu-img is not installed: run build/setup.sh")
	}
	spec := `json:{"driver":"qcow2","backing":null,"file":{"driver":"file","filename":"` + path + `"}}`
	out, err := exec.Command(qemu, append(args, spec)...).Output()
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 2) {
		t.Fatalf("qemu-img %v: %v", args, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("qemu-img %v: %v: %s", args, err, out)
	}
}

// qemuCheck is what qemu-img check --output=json counts.
type qemuCheck struct {
	Corruptions int `json:"corruptions"`
	Leaks       int `json:"leaks"`
	CheckErrors int `json:"check-errors"`
	Compressed  int `json:"compressed-clusters"`
	Allocated   int `json:"allocated-clusters"`
}

// writeQCOW2 writes the crafted image name to a temporary file.
func writeQCOW2(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".qcow2")
	if err := os.WriteFile(p, QCOW2Images()[name], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompressedPastEndAsQEMUSeesIt: qemu-img check finds the one
// compressed cluster, and one corruption: its data past the end.
func TestCompressedPastEndAsQEMUSeesIt(t *testing.T) {
	var c qemuCheck
	qemuJSON(t, &c, writeQCOW2(t, "compressed_past_end"), "check", "--output=json")
	if c != (qemuCheck{Corruptions: 1, Compressed: 1, Allocated: 1}) {
		t.Errorf("qemu-img check: %+v, want one compressed cluster, one corruption", c)
	}
}

// TestControlCharsAsQEMUSeesIt: qemu-img finds no error and reads the
// backing file name and the snapshot's ID and name as crafted.
func TestControlCharsAsQEMUSeesIt(t *testing.T) {
	p := writeQCOW2(t, "control_chars")
	var c qemuCheck
	qemuJSON(t, &c, p, "check", "--output=json")
	if c != (qemuCheck{}) {
		t.Errorf("qemu-img check: %+v, want a consistent image", c)
	}
	var info struct {
		Backing   string `json:"backing-filename"`
		Snapshots []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"snapshots"`
	}
	qemuJSON(t, &info, p, "info", "--output=json")
	if info.Backing != "base"+ControlText+".qcow2" {
		t.Errorf("backing file %q", info.Backing)
	}
	if len(info.Snapshots) != 1 || info.Snapshots[0].ID != "1"+ControlText || info.Snapshots[0].Name != "snap"+ControlText {
		t.Errorf("snapshots %+v", info.Snapshots)
	}
}
