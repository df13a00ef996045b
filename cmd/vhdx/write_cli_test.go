// Black-box tests of the commands that write: create, write, convert and
// merge. Every image is made and changed through the CLI binary; what it
// holds is checked against an in-memory model of the virtual disk with the
// CLI's own readers (cat, map, info, check) and, where they can read the
// image, QEMU's (see interop_cli_test.go for the QEMU and libvhdi helpers).
package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Helpers

// runCLIInput is runCLI with standard input read from in (an *os.File is
// handed over as is, anything else through a pipe).
func runCLIInput(t *testing.T, in io.Reader, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, vhdxBin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &stdout, &stderr
	err := cmd.Run()
	if bytes.Contains(stderr.Bytes(), []byte("\ngoroutine ")) {
		t.Errorf("vhdx %s panicked:\n%s", strings.Join(args, " "), clip(stderr.Bytes()))
	}
	code := 0
	if err != nil {
		var exitErr *exec.ExitError
		if ctx.Err() != nil || !errors.As(err, &exitErr) || exitErr.ExitCode() < 0 {
			t.Fatalf("vhdx %s: %v (ctx: %v); stderr: %s", strings.Join(args, " "), err, ctx.Err(), clip(stderr.Bytes()))
		}
		code = exitErr.ExitCode()
	}
	return cliResult{stdout.Bytes(), stderr.Bytes(), code}
}

// randomBytes returns n bytes from rng.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b[:n]
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// requireCat requires `cat FILE` to print exactly want.
func requireCat(t *testing.T, path string, want []byte) {
	t.Helper()
	if d := disktest.Diff(mustSucceed(t, "cat", path), want); d != "" {
		t.Fatalf("cat %s differs from the model: %s", filepath.Base(path), d)
	}
}

// requireClean runs `check --json` and requires exit 0 and no error or
// warning findings (info findings, such as stale entries of an emptied
// log, are fine).
func requireClean(t *testing.T, path string) {
	t.Helper()
	r := runCLI(t, "check", "--json", path)
	var doc struct {
		Findings []finding `json:"findings"`
		Errors   *int      `json:"errors"`
		Warnings *int      `json:"warnings"`
	}
	if err := json.Unmarshal(r.stdout, &doc); err != nil || doc.Errors == nil || doc.Warnings == nil {
		t.Fatalf("check --json %s (exit %d): not a check report (%v)\n%s\nstderr: %s", filepath.Base(path), r.code, err, clip(r.stdout), clip(r.stderr))
	}
	for _, f := range doc.Findings {
		if f.Severity == "error" || f.Severity == "warning" {
			t.Errorf("check %s: %s finding %s", filepath.Base(path), f.Severity, f)
		}
	}
	if r.code != 0 || *doc.Errors != 0 || *doc.Warnings != 0 {
		t.Fatalf("check %s: exit %d, %d errors, %d warnings; want 0, 0, 0", filepath.Base(path), r.code, *doc.Errors, *doc.Warnings)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// allocatedBytes is the disk space a file uses (st_blocks).
func allocatedBytes(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// infoOf runs `info --json` with the consistency checks of runInfo.
func infoOf(t *testing.T, path string) infoFacts {
	t.Helper()
	return runInfo(t, path, fileSize(t, path))
}

// jsonAt follows keys (strings for objects, ints for arrays) into v.
func jsonAt(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func jsonInt(v any) int64 {
	n, _ := v.(json.Number)
	i, err := n.Int64()
	if err != nil {
		return -1
	}
	return i
}

// currentHeader returns the current header of info's structures.
func currentHeader(info infoFacts) map[string]any {
	h, _ := jsonAt(info.raw, "structures", "headers", int(jsonInt(info.raw["current_header"]))-1).(map[string]any)
	return h
}

// dataWriteGUID is the image's current DataWriteGuid, lower case.
func dataWriteGUID(t *testing.T, info infoFacts) string {
	t.Helper()
	g, _ := currentHeader(info)["data_write_guid"].(string)
	if g == "" {
		t.Fatalf("info --json: no data_write_guid in the current header")
	}
	return strings.ToLower(g)
}

// parentLinkage is the parent_linkage of info's parent locator, lower case
// and without braces.
func parentLinkage(t *testing.T, info infoFacts) string {
	t.Helper()
	entries, _ := info.raw["parent_locator"].([]any)
	for _, e := range entries {
		if jsonAt(e, "key") == "parent_linkage" {
			v, _ := jsonAt(e, "value").(string)
			return strings.ToLower(strings.Trim(v, "{}"))
		}
	}
	t.Fatalf("info --json: no parent_linkage in parent_locator: %v", info.raw["parent_locator"])
	return ""
}

// cliWrite is one `vhdx write`: n bytes at off, OFFSET spelled arg (decimal
// off when empty).
type cliWrite struct {
	off int64
	n   int
	arg string
}

func (w cliWrite) offsetArg() string {
	if w.arg != "" {
		return w.arg
	}
	return fmt.Sprint(w.off)
}

// diskModel is an image under test and the virtual disk it should hold.
type diskModel struct {
	path string
	data []byte
	rng  *rand.Rand
}

// write writes random bytes with the CLI, which must succeed, and applies
// them to the model. It returns the bytes written.
func (m *diskModel) write(t *testing.T, w cliWrite) []byte {
	t.Helper()
	p := randomBytes(m.rng, w.n)
	r := runCLIInput(t, bytes.NewReader(p), "write", m.path, w.offsetArg())
	if r.code != 0 {
		t.Fatalf("write %d bytes at %s: exit %d; stderr: %s", len(p), w.offsetArg(), r.code, clip(r.stderr))
	}
	copy(m.data[w.off:], p)
	return p
}

// sectorSpan returns the logical sectors [first, end) that bytes
// [off, off+n) touch.
func sectorSpan(off, n, ss int64) (int64, int64) {
	return off / ss, (off + n + ss - 1) / ss
}

// ---------------------------------------------------------------------------
// create

type createCase struct {
	name     string
	flags    []string
	size     string // VIRTUAL_SIZE as given
	bytes    int64  // what it means
	block    int64
	logical  int64
	physical int64
	logSize  int64
	fixed    bool
}

var createCases = []createCase{
	{"dynamic-defaults", nil, "1G", GiB, 32 * MiB, 512, 4096, MiB, false},
	{"dynamic-1M-odd", []string{"--block-size", "1M"}, "5000K", 5000 << 10, MiB, 512, 4096, MiB, false},
	{"fixed-1M-odd", []string{"--fixed", "--block-size", "1M"}, "3146240", 3*MiB + 512, MiB, 512, 4096, MiB, true},
	{"dynamic-2M", []string{"--block-size", "2M"}, "100001K", 100001 << 10, 2 * MiB, 512, 4096, MiB, false},
	{"fixed-2M", []string{"--fixed", "--block-size=2M"}, "7M", 7 * MiB, 2 * MiB, 512, 4096, MiB, true},
	{"dynamic-32M-1T", []string{"--block-size", "32M"}, "1T", 1 << 40, 32 * MiB, 512, 4096, MiB, false},
	{"fixed-32M", []string{"--fixed", "--block-size", "32M"}, "40MiB", 40 * MiB, 32 * MiB, 512, 4096, MiB, true},
	{"dynamic-256M", []string{"--block-size", "256M"}, "300M", 300 * MiB, 256 * MiB, 512, 4096, MiB, false},
	{"fixed-256M", []string{"--fixed", "--block-size", "256M"}, "1M", MiB, 256 * MiB, 512, 4096, MiB, true},
	{"logical-4096", []string{"--logical-sector", "4096"}, "8200K", 8200 << 10, 32 * MiB, 4096, 4096, MiB, false},
	{"logical-4096-fixed-1M", []string{"--logical-sector", "4096", "--fixed", "--block-size", "1M"}, "5124K", 5124 << 10, MiB, 4096, 4096, MiB, true},
	{"physical-512", []string{"--physical-sector", "512"}, "2G", 2 * GiB, 32 * MiB, 512, 512, MiB, false},
	{"logical-4096-physical-512", []string{"--logical-sector", "4096", "--physical-sector", "512", "--block-size", "1M"}, "12K", 12 << 10, MiB, 4096, 512, MiB, false},
	{"log-2M", []string{"--log-size", "2M"}, "16M", 16 * MiB, 32 * MiB, 512, 4096, 2 * MiB, false},
	{"64T-1M-blocks", []string{"--block-size", "1M"}, "64T", 64 << 40, MiB, 512, 4096, MiB, false},
}

func TestCreate(t *testing.T) {
	for _, c := range createCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testCreateCase(t, c)
		})
	}
}

func testCreateCase(t *testing.T, c createCase) {
	img := filepath.Join(t.TempDir(), "new.vhdx")
	start := time.Now()
	r := runCLI(t, append(append([]string{"create"}, c.flags...), img, c.size)...)
	elapsed := time.Since(start)
	if r.code != 0 || len(r.stdout) != 0 || len(r.stderr) != 0 {
		t.Fatalf("create: exit %d, stdout %q, stderr %q; want 0 and no output", r.code, clip(r.stdout), clip(r.stderr))
	}
	info := infoOf(t, img)
	if info.virtualSize != c.bytes || info.blockSize != c.block || info.logicalSector != c.logical {
		t.Errorf("info: virtual_size %d, block_size %d, logical_sector_size %d; want %d, %d, %d",
			info.virtualSize, info.blockSize, info.logicalSector, c.bytes, c.block, c.logical)
	}
	if got := jsonInt(info.raw["physical_sector_size"]); got != c.physical {
		t.Errorf("physical_sector_size = %d, want %d", got, c.physical)
	}
	if got := jsonInt(currentHeader(info)["log_length"]); got != c.logSize {
		t.Errorf("log_length = %d, want %d", got, c.logSize)
	}
	if info.hasParent || info.logReplayNeeded {
		t.Errorf("has_parent %v, log_replay_needed %v; want false, false", info.hasParent, info.logReplayNeeded)
	}
	wantType, wantState := "dynamic", "not_present"
	if c.fixed {
		wantType, wantState = "fixed", "fully_present"
	}
	if got := info.raw["disk_type"]; got != wantType {
		t.Errorf("disk_type = %v, want %s", got, wantType)
	}
	if info.leaveAllocated != c.fixed {
		t.Errorf("leave_blocks_allocated = %v, want %v", info.leaveAllocated, c.fixed)
	}
	if info.blockStates[wantState] != info.payloadBlocks {
		t.Errorf("block_states = %v; want all %d blocks %s", info.blockStates, info.payloadBlocks, wantState)
	}
	// The file holds 1 MiB of headers, the log, 1 MiB of metadata, the BAT
	// rounded to 1 MiB, then (fixed) every block.
	batBytes := jsonInt(jsonAt(info.raw, "structures", "bat", "length"))
	wantFile := MiB + c.logSize + MiB + batBytes
	if c.fixed {
		wantFile += info.payloadBlocks * c.block
	}
	if info.fileSize != wantFile || batBytes%MiB != 0 {
		t.Errorf("file size %d with a %d-byte BAT; want %d", info.fileSize, batBytes, wantFile)
	}
	if !c.fixed {
		// Nothing is written but the structures: the BAT of a huge disk
		// stays a hole.
		if a := allocatedBytes(t, img); a > 4*MiB {
			t.Errorf("the new dynamic image occupies %d bytes on disk; want at most 4 MiB", a)
		}
		if elapsed > 20*time.Second {
			t.Errorf("create took %v", elapsed)
		}
	}
	requireClean(t, img)

	if c.logical != 512 {
		return // QEMU reads only 512-byte logical sectors
	}
	t.Run("qemu", func(t *testing.T) {
		skipWithoutQEMU(t)
		var q struct {
			VirtualSize int64 `json:"virtual-size"`
			ClusterSize int64 `json:"cluster-size"`
		}
		out := runTool(t, "qemu-img", "info", "-f", "vhdx", "--output=json", img)
		if err := json.Unmarshal(out, &q); err != nil {
			t.Fatalf("qemu-img info: %v\n%s", err, out)
		}
		if q.VirtualSize != c.bytes || q.ClusterSize != c.block {
			t.Errorf("qemu-img info: virtual-size %d, cluster-size %d; want %d, %d", q.VirtualSize, q.ClusterSize, c.bytes, c.block)
		}
		runTool(t, "qemu-img", "check", "-f", "vhdx", img) // exit 0: no errors, no leaks
	})
}

func TestCreateBadArguments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.vhdx")
	mustSucceed(t, "create", "--block-size", "1M", existing, "4M")
	before, err := os.ReadFile(existing)
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(dir, "parent.vhdx")
	mustSucceed(t, "create", "--block-size", "1M", parent, "8M")
	for _, c := range []struct {
		name string
		args []string // FILE is appended before them when not "-"
	}{
		{"size-0", []string{"0"}},
		{"size-65T", []string{"65T"}},
		{"size-past-uint64", []string{"16777216T"}},
		{"size-not-a-number", []string{"12Q"}},
		{"size-not-whole-sectors", []string{"1000"}},
		{"size-not-whole-4K-sectors", []string{"--logical-sector", "4096", "-", "6144"}},
		{"no-size", nil},
		{"block-size-3M", []string{"--block-size", "3M", "-", "1G"}},
		{"block-size-512K", []string{"--block-size", "512K", "-", "1G"}},
		{"block-size-512M", []string{"--block-size", "512M", "-", "1G"}},
		{"logical-sector-1024", []string{"--logical-sector", "1024", "-", "1G"}},
		{"physical-sector-1024", []string{"--physical-sector", "1024", "-", "1G"}},
		{"log-size-not-MiB", []string{"--log-size", "1500K", "-", "1G"}},
		{"fixed-child", []string{"--fixed", "--parent", parent, "-"}},
		{"child-other-size", []string{"--parent", parent, "-", "16M"}},
		{"child-other-sector", []string{"--parent", parent, "--logical-sector", "4096", "-"}},
		{"missing-parent", []string{"--parent", filepath.Join(dir, "nope.vhdx"), "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, c.name+".vhdx")
			args := []string{"create"}
			placed := false
			for _, a := range c.args {
				if a == "-" {
					a, placed = file, true
				}
				args = append(args, a)
			}
			if !placed {
				args = append(append([]string{"create"}, file), c.args...)
			}
			r := runCLI(t, args...)
			if r.code == 0 {
				t.Errorf("vhdx %s: exit 0, want an error", strings.Join(args, " "))
			}
			requireOneLine(t, "vhdx "+strings.Join(args, " "), r.stderr)
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed create left %s behind (%v)", filepath.Base(file), err)
			}
		})
	}
	t.Run("existing-file", func(t *testing.T) {
		r := runCLI(t, "create", existing, "8M")
		if r.code == 0 {
			t.Errorf("create over an existing file: exit 0")
		}
		requireOneLine(t, "create over an existing file", r.stderr)
		after, err := os.ReadFile(existing)
		if err != nil || !bytes.Equal(before, after) {
			t.Errorf("create over an existing file changed it (%v)", err)
		}
	})
}

// TestWriteSideHelp: --help prints the usage once, on standard output.
func TestWriteSideHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"create", "write", "convert", "merge"} {
		r := runCLI(t, cmd, "--help")
		if r.code != 0 || !bytes.Contains(r.stdout, []byte("usage: vhdx "+cmd)) {
			t.Errorf("vhdx %s --help: exit %d, stdout %q; want 0 and the usage", cmd, r.code, clip(r.stdout))
		}
		if len(r.stderr) != 0 {
			t.Errorf("vhdx %s --help also printed the usage on stderr:\n%s", cmd, clip(r.stderr))
		}
	}
}

// ---------------------------------------------------------------------------
// write

type writeCase struct {
	name    string
	fixed   bool
	logical int64
}

var writeCases = []writeCase{
	{"dynamic-512", false, 512},
	{"fixed-512", true, 512},
	{"dynamic-4096", false, 4096},
	{"fixed-4096", true, 4096},
}

// writeSessions returns the writes of TestWrite for a disk of size bytes
// with 1 MiB blocks: small ones first, each in a new place, then larger
// ones over them.
func writeSessions(size, ss int64) []cliWrite {
	return []cliWrite{
		{off: 0, n: int(ss)},                    // the first sector, aligned
		{off: 1000, n: 3000},                    // unaligned at both ends
		{off: MiB - 100, n: 300},                // across the first block boundary
		{off: 3 * MiB, n: 700, arg: "3M"},       // OFFSET with a suffix
		{off: 0x280200, n: 50, arg: "0x280200"}, // OFFSET in hex
		{off: size - 10, n: 10},                 // the last bytes of the disk
		{off: 2*MiB + 4097, n: 1},               // one byte inside a sector
		{off: MiB + 7, n: int(2*MiB + 13)},      // three blocks, unaligned
		{off: 333, n: int(4*MiB + 1000)},        // more than the CLI reads at once
		{off: 900, n: 200},                      // over earlier data
		{off: size - 4097, n: 4097},             // to the very end, unaligned start
		{off: size - ss, n: int(ss)},            // the last sector, aligned
		{off: 4*MiB + 12345, n: 0},              // nothing at all
		{off: 4*MiB - ss, n: int(3 * ss)},       // aligned, across a block boundary
		{off: 5*MiB - 1, n: 2, arg: "5242879"},  // two bytes across the last boundary
	}
}

func TestWrite(t *testing.T) {
	for _, c := range writeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testWriteCase(t, c)
		})
	}
}

func testWriteCase(t *testing.T, c writeCase) {
	const bs = MiB
	size := 5*MiB + 3*4096 // the last block is partial
	m := &diskModel{path: filepath.Join(t.TempDir(), "w.vhdx"), data: make([]byte, size), rng: newRand(uint64(len(c.name)) + uint64(c.logical))}
	args := []string{"create", "--block-size", "1M", "--logical-sector", fmt.Sprint(c.logical)}
	if c.fixed {
		args = append(args, "--fixed")
	}
	mustSucceed(t, append(args, m.path, fmt.Sprint(size))...)
	created := fileSize(t, m.path)
	touched := map[int64]bool{} // blocks written so far

	for i, w := range writeSessions(size, c.logical) {
		m.write(t, w)
		for b := w.off / bs; w.n > 0 && b <= (w.off+int64(w.n)-1)/bs; b++ {
			touched[b] = true
		}
		what := fmt.Sprintf("after write %d (%d bytes at %d)", i, w.n, w.off)
		requireClean(t, m.path)
		requireCat(t, m.path, m.data)

		// A fixed image never grows; a dynamic one gains exactly one block
		// for each block written for the first time, and only those are
		// fully present.
		info := infoOf(t, m.path)
		wantFile, wantPresent := created, int64(len(touched))
		if c.fixed {
			wantPresent = info.payloadBlocks
		} else {
			wantFile += int64(len(touched)) * bs
		}
		if info.fileSize != wantFile || info.blockStates["fully_present"] != wantPresent {
			t.Fatalf("%s: file size %d, %d blocks fully present; want %d and %d", what, info.fileSize, info.blockStates["fully_present"], wantFile, wantPresent)
		}
		if !c.fixed {
			for _, e := range runMap(t, m.path, info) {
				present := e.State == "fully_present"
				for b := *e.Start / bs; b <= (e.end()-1)/bs; b++ {
					if present != touched[b] {
						t.Fatalf("%s: map extent %v, but block %d written: %v", what, e, b, touched[b])
					}
				}
			}
		}
	}

	// Writes that do not fit fail and change nothing.
	before, err := os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []cliWrite{
		{off: size - 5, n: 10},   // runs past the end
		{off: size, n: 1},        // starts at the end
		{off: size + 4096, n: 1}, // starts after the end
		{n: 1, arg: "-512"},      // negative
		{n: 1, arg: "12Q"},       // not a number
	} {
		r := runCLIInput(t, bytes.NewReader(make([]byte, w.n)), "write", m.path, w.offsetArg())
		what := fmt.Sprintf("write %d bytes at %s of a %d-byte disk", w.n, w.offsetArg(), size)
		if r.code == 0 {
			t.Errorf("%s: exit 0, want an error", what)
		}
		requireOneLine(t, what, r.stderr)
	}
	after, err := os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("failed writes changed the image file")
	}
	requireCat(t, m.path, m.data)
	requireClean(t, m.path)

	if c.logical == 512 {
		t.Run("qemu", func(t *testing.T) {
			skipWithoutQEMU(t)
			requireQEMURaw(t, m.path, m.data)
			runTool(t, "qemu-img", "check", "-f", "vhdx", m.path)
		})
	}
}

// TestWriteOffsetBeyondInt64: OFFSET is read as an unsigned 64-bit size;
// one that does not fit a signed 64-bit file offset is an error like any
// other offset past the end, not a crash.
func TestWriteOffsetBeyondInt64(t *testing.T) {
	t.Parallel()
	img := filepath.Join(t.TempDir(), "small.vhdx")
	mustSucceed(t, "create", "--block-size", "1M", img, "5M")
	for _, off := range []string{"18446744073709551615", "18446744073709551104", "9223372036854775808", "16777215T"} {
		r := runCLIInput(t, strings.NewReader("x"), "write", img, off)
		what := "write 1 byte at " + off
		if r.code == 0 {
			t.Errorf("%s: exit 0", what)
		}
		requireOneLine(t, what, r.stderr)
	}
	requireCat(t, img, make([]byte, 5*MiB))
}

// TestWritePastEndChangesNothing: a write whose data runs past the end of
// the disk is refused before anything is written, however long the data.
// Standard input is a regular file, so its length is known up front.
func TestWritePastEndChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	img := filepath.Join(dir, "small.vhdx")
	mustSucceed(t, "create", "--block-size", "1M", img, "5M")
	for _, w := range []cliWrite{
		{off: 4*MiB + MiB/2, n: int(MiB)}, // less than the CLI reads at once
		{off: 0, n: int(6 * MiB)},         // more: the first 4 MiB would fit
	} {
		data := filepath.Join(dir, "data")
		if err := os.WriteFile(data, bytes.Repeat([]byte{0xee}, w.n), 0o644); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(data)
		if err != nil {
			t.Fatal(err)
		}
		r := runCLIInput(t, in, "write", img, w.offsetArg())
		in.Close()
		what := fmt.Sprintf("writing %d bytes at %d of a 5 MiB disk", w.n, w.off)
		if r.code == 0 {
			t.Errorf("%s: exit 0", what)
		}
		requireOneLine(t, what, r.stderr)
		if got := mustSucceed(t, "cat", img); !isZeros(got) {
			t.Errorf("%s failed, yet changed the disk: %s", what, disktest.Diff(got, make([]byte, 5*MiB)))
		}
		if info := infoOf(t, img); info.blockStates["fully_present"] != 0 {
			t.Errorf("%s failed, yet allocated %d blocks", what, info.blockStates["fully_present"])
		}
	}
}

// ---------------------------------------------------------------------------
// Differencing chains

// chainLevel is one image of a chain and the disk as read through it.
type chainLevel struct {
	path   string
	model  []byte
	writes []cliWrite
}

type testChain struct {
	ss, size int64
	levels   []chainLevel // base first
}

// chainWrites are the writes of each level, base first: the base is
// filled at the start and at the end; the middle writes unaligned ranges
// over the base's data, across a block boundary, into a block the base
// lacks, and one whole block; the top overlaps all of these.
func chainWrites(size int64) [][]cliWrite {
	return [][]cliWrite{
		{{off: 0, n: int(3 * MiB)}, {off: size - 5000, n: 5000}},
		{{off: MiB/2 + 100, n: 700}, {off: 2*MiB - 300, n: 1000}, {off: 4*MiB + 5, n: 10}, {off: 5 * MiB, n: int(MiB)}},
		{{off: MiB/2 + 500, n: 1000}, {off: 2*MiB + 100, n: 50}, {off: 3*MiB - 1, n: 2}, {off: 4 * MiB, n: 4},
			{off: 5*MiB + 4096, n: 100}, {off: size - 7, n: 7}},
	}
}

// buildChain creates base <- mid <- top with 1 MiB blocks in three
// folders (the children find their parents by relative path) and writes
// chainWrites, each level before its child is made.
func buildChain(t *testing.T, ss int64, seed uint64) *testChain {
	t.Helper()
	dir := t.TempDir()
	c := &testChain{ss: ss, size: 6*MiB + 3*4096}
	paths := []string{filepath.Join(dir, "base", "base.vhdx"), filepath.Join(dir, "mid", "mid.avhdx"), filepath.Join(dir, "top.avhdx")}
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &diskModel{data: make([]byte, c.size), rng: newRand(seed)}
	for i, p := range paths {
		if i == 0 {
			mustSucceed(t, "create", "--block-size", "1M", "--logical-sector", fmt.Sprint(ss), p, fmt.Sprint(c.size))
		} else {
			mustSucceed(t, "create", "--parent", paths[i-1], p)
		}
		m.path = p
		writes := chainWrites(c.size)[i]
		for _, w := range writes {
			m.write(t, w)
		}
		c.levels = append(c.levels, chainLevel{path: p, model: bytes.Clone(m.data), writes: writes})
	}
	return c
}

// owners returns, for every logical sector, the level (0 = base) whose
// image holds it as the top reads the disk, or -1 where no level does.
// The base's blocks are fully present once written; a child holds just the
// sectors it wrote, or the whole block when it wrote all of it.
func (c *testChain) owners() []int {
	own := make([]int, c.size/c.ss)
	for i := range own {
		own[i] = -1
	}
	for lvl, l := range c.levels {
		for _, w := range l.writes {
			first, end := sectorSpan(w.off, int64(w.n), c.ss)
			if lvl == 0 {
				first, end = w.off/MiB*MiB/c.ss, min(c.size, (w.off+int64(w.n)+MiB-1)/MiB*MiB)/c.ss
			}
			for s := first; s < end; s++ {
				own[s] = lvl
			}
		}
	}
	return own
}

func TestChainCreateWriteMerge(t *testing.T) {
	for _, ss := range []int64{512, 4096} {
		t.Run(fmt.Sprint(ss), func(t *testing.T) {
			t.Parallel()
			testChainCase(t, ss)
		})
	}
}

func testChainCase(t *testing.T, ss int64) {
	c := buildChain(t, ss, uint64(ss))
	top := c.levels[2]
	dir := filepath.Dir(top.path)

	t.Run("levels", func(t *testing.T) {
		for i, l := range c.levels {
			requireCat(t, l.path, l.model)
			requireClean(t, l.path)
			info := infoOf(t, l.path)
			if info.hasParent != (i > 0) || info.virtualSize != c.size || info.logicalSector != ss || info.blockSize != MiB {
				t.Errorf("%s: has_parent %v, size %d, sector %d, block %d", filepath.Base(l.path), info.hasParent, info.virtualSize, info.logicalSector, info.blockSize)
			}
			if i == 0 {
				continue
			}
			parent := infoOf(t, c.levels[i-1].path)
			if link, data := parentLinkage(t, info), dataWriteGUID(t, parent); link != data {
				t.Errorf("%s: parent_linkage %s, the parent's DataWriteGuid %s", filepath.Base(l.path), link, data)
			}
			chain, _ := info.raw["chain"].([]any)
			if len(chain) != i+1 {
				t.Errorf("%s: info chain has %d layers, want %d", filepath.Base(l.path), len(chain), i+1)
			}
		}
	})

	t.Run("map", func(t *testing.T) {
		info := infoOf(t, top.path)
		out := mustSucceed(t, "map", "--json", top.path)
		var doc struct {
			Layers  []string `json:"layers"`
			Extents []struct {
				Start, Length int64
				State         string
				FileOffset    *int64 `json:"file_offset"`
				Layer         int
			} `json:"extents"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Layers) != 3 || doc.Layers[0] != top.path || doc.Layers[2] != c.levels[0].path {
			t.Fatalf("map layers = %v", doc.Layers)
		}
		files := make([]*os.File, 3)
		for i, l := range c.levels {
			f, err := os.Open(l.path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files[2-i] = f // by map layer, top first
		}
		own := c.owners()
		var pos int64
		seen := map[string]bool{}
		for _, e := range doc.Extents {
			if e.Start != pos || e.Length <= 0 || e.Start%ss != 0 || e.Length%ss != 0 {
				t.Fatalf("extent %+v does not continue at %d in whole sectors", e, pos)
			}
			pos += e.Length
			for s := e.Start / ss; s < (e.Start+e.Length)/ss; s++ {
				o := own[s]
				want := "not_present"
				if o >= 0 {
					want = fmt.Sprintf("layer %d", 2-o)
				}
				got := e.State
				if e.State == "fully_present" || e.State == "partially_present" {
					got = fmt.Sprintf("layer %d", e.Layer)
				}
				if got != want {
					t.Fatalf("sector %d (byte %d): map extent [%d, +%d) says %s (%s); written by %s", s, s*ss, e.Start, e.Length, got, e.State, want)
				}
				seen[want] = true
			}
			if e.FileOffset != nil && e.Layer >= 0 && e.Layer < 3 {
				// The extent's bytes are in its layer's file at file_offset.
				b := make([]byte, e.Length)
				if _, err := files[e.Layer].ReadAt(b, *e.FileOffset); err != nil {
					t.Fatalf("extent %+v: reading layer %d at %d: %v", e, e.Layer, *e.FileOffset, err)
				}
				if d := disktest.Diff(b, top.model[e.Start:e.Start+e.Length]); d != "" {
					t.Errorf("extent [%d, +%d) of layer %d at file offset %d: %s", e.Start, e.Length, e.Layer, *e.FileOffset, d)
				}
			}
		}
		if pos != info.virtualSize || len(seen) != 4 {
			t.Errorf("extents end at %d (virtual size %d) and show %v; want every layer and not_present", pos, info.virtualSize, seen)
		}
		// Known ranges, by hand: the top's write inside the middle's data,
		// the middle's whole block, the base's data, a block nobody wrote.
		for _, k := range []struct {
			off          int64
			state        string
			layer        int
			whose, where string
		}{
			{2*MiB + 100, "partially_present", 0, "top", "inside mid's run across a block boundary"},
			{2*MiB - 200, "partially_present", 1, "mid", "across a block boundary"},
			{5*MiB + 8192, "fully_present", 1, "mid", "whole block 5"},
			{MiB + 4096, "fully_present", 2, "base", "block 1"},
			{3*MiB + 8192, "not_present", 2, "nobody", "block 3"},
		} {
			for _, e := range doc.Extents {
				if e.Start <= k.off && k.off < e.Start+e.Length {
					if e.State != k.state || e.Layer != k.layer {
						t.Errorf("byte %d (%s, written by %s): map says %s in layer %d, want %s in layer %d", k.off, k.where, k.whose, e.State, e.Layer, k.state, k.layer)
					}
				}
			}
		}
	})

	// Reading must not change any image of the chain.
	snapshot := func() [][]byte {
		var s [][]byte
		for _, l := range c.levels {
			b, err := os.ReadFile(l.path)
			if err != nil {
				t.Fatal(err)
			}
			s = append(s, b)
		}
		return s
	}
	before := snapshot()

	t.Run("merge-vhdx", func(t *testing.T) {
		out := filepath.Join(dir, "merged.vhdx")
		mustSucceed(t, "merge", top.path, out)
		requireStandalone(t, out, top.model, ss, MiB)
	})
	t.Run("merge-vhdx-2M-blocks", func(t *testing.T) {
		out := filepath.Join(dir, "merged2m.vhdx")
		mustSucceed(t, "merge", "--block-size", "2M", top.path, out)
		requireStandalone(t, out, top.model, ss, 2*MiB)
	})
	t.Run("convert-vhdx", func(t *testing.T) {
		out := filepath.Join(dir, "converted.vhdx")
		mustSucceed(t, "convert", top.path, out)
		requireStandalone(t, out, top.model, ss, MiB)
	})
	t.Run("merge-raw", func(t *testing.T) {
		out := filepath.Join(dir, "merged.raw")
		mustSucceed(t, "merge", top.path, out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if d := disktest.Diff(got, top.model); d != "" {
			t.Fatalf("merge to raw: %s", d)
		}
	})
	t.Run("merge-mid-raw", func(t *testing.T) {
		out := filepath.Join(dir, "mid.raw")
		mustSucceed(t, "merge", c.levels[1].path, out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if d := disktest.Diff(got, c.levels[1].model); d != "" {
			t.Fatalf("merge of the middle level to raw: %s", d)
		}
	})
	t.Run("merge-refuses", func(t *testing.T) {
		raw := filepath.Join(dir, "merged.raw")
		for _, args := range [][]string{
			{"merge", top.path, filepath.Join(dir, "merged.vhdx")}, // OUT exists
			{"merge", raw, filepath.Join(dir, "from-raw.vhdx")},    // IN is not a VHDX
		} {
			r := runCLI(t, args...)
			if r.code == 0 {
				t.Errorf("vhdx %s: exit 0", strings.Join(args, " "))
			}
			requireOneLine(t, "vhdx "+strings.Join(args, " "), r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "from-raw.vhdx")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused merge left its output (%v)", err)
		}
	})
	for i, b := range snapshot() {
		if !bytes.Equal(b, before[i]) {
			t.Errorf("reading, merging and converting changed %s", c.levels[i].path)
		}
	}

	t.Run("missing-parent", func(t *testing.T) {
		base := c.levels[0].path
		moved := filepath.Join(filepath.Dir(base), "old-base.vhdx")
		if err := os.Rename(base, moved); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"cat", top.path}, {"cat", c.levels[1].path}, {"merge", top.path, filepath.Join(dir, "x.vhdx")}} {
			r := runCLI(t, args...)
			if r.code == 0 || !bytes.Contains(r.stderr, []byte("base.vhdx")) || !bytes.Contains(r.stderr, []byte("parent disk not found")) {
				t.Errorf("vhdx %s without the base: exit %d, stderr %q; want an error naming base.vhdx", strings.Join(args, " "), r.code, r.stderr)
			}
			requireOneLine(t, "vhdx "+strings.Join(args, " "), r.stderr)
		}
		if r := runCLI(t, "check", "--json", top.path); r.code != 1 || !bytes.Contains(r.stdout, []byte(`"chain.parent_missing"`)) {
			t.Errorf("check without the base: exit %d\n%s", r.code, clip(r.stdout))
		}
		if _, err := os.Stat(filepath.Join(dir, "x.vhdx")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed merge left its output (%v)", err)
		}
		if err := os.Rename(moved, base); err != nil {
			t.Fatal(err)
		}
		requireCat(t, top.path, top.model)
	})

	// Writing to a parent gives it a new DataWriteGuid, so its child no
	// longer links to it and refuses to read through it.
	t.Run("parent-written-after-child", func(t *testing.T) {
		mid := &diskModel{path: c.levels[1].path, data: bytes.Clone(c.levels[1].model), rng: newRand(7)}
		mid.write(t, cliWrite{off: 4096, n: 512})
		requireCat(t, mid.path, mid.data)
		r := runCLI(t, "cat", top.path)
		if r.code == 0 || !bytes.Contains(r.stderr, []byte("parent_linkage")) {
			t.Errorf("cat of a child whose parent changed: exit %d, stderr %q; want a parent_linkage mismatch", r.code, r.stderr)
		}
		if r := runCLI(t, "check", "--json", top.path); r.code != 1 || !bytes.Contains(r.stdout, []byte(`"chain.parent_mismatch"`)) {
			t.Errorf("check of a child whose parent changed: exit %d\n%s", r.code, clip(r.stdout))
		}
	})
}

// requireStandalone checks an image made by merge or convert: no parent,
// clean, the expected geometry and content, data blocks only where the
// content is not zero; and QEMU agrees for 512-byte sectors.
func requireStandalone(t *testing.T, path string, want []byte, ss, bs int64) {
	t.Helper()
	info := infoOf(t, path)
	if info.hasParent || info.virtualSize != int64(len(want)) || info.logicalSector != ss || info.blockSize != bs {
		t.Errorf("has_parent %v, size %d, sector %d, block %d; want false, %d, %d, %d", info.hasParent, info.virtualSize, info.logicalSector, info.blockSize, len(want), ss, bs)
	}
	var dataBlocks int64
	for off := int64(0); off < int64(len(want)); off += bs {
		if !isZeros(want[off:min(off+bs, int64(len(want)))]) {
			dataBlocks++
		}
	}
	if info.blockStates["fully_present"] != dataBlocks || info.blockStates["not_present"] != info.payloadBlocks-dataBlocks {
		t.Errorf("block_states %v; want %d fully present, the rest not present", info.blockStates, dataBlocks)
	}
	requireClean(t, path)
	requireCat(t, path, want)
	if ss == 512 {
		t.Run("qemu", func(t *testing.T) {
			skipWithoutQEMU(t)
			runTool(t, "qemu-img", "check", "-f", "vhdx", path)
			requireQEMURaw(t, path, want)
		})
	}
}

func isZeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// convert

// TestConvertSparseRawRoundTrip: raw with holes -> VHDX -> raw gives the
// same bytes, allocating VHDX blocks only where the raw file has non-zero
// data and leaving the output raw file sparse.
func TestConvertSparseRawRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "in.raw")
	const size = 40 * MiB
	want := make([]byte, size)
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := newRand(99)
	for _, w := range []struct{ off, n int64 }{
		{0, 4096},            // block 0
		{3*MiB + 777, 10000}, // block 3
		{9*MiB - 100, 200},   // blocks 8 and 9
		{size - 512, 512},    // block 39
	} {
		p := randomBytes(rng, int(w.n))
		if _, err := f.WriteAt(p, w.off); err != nil {
			t.Fatal(err)
		}
		copy(want[w.off:], p)
	}
	// Zeros written as data (blocks 20 and 21) must still become a hole.
	if _, err := f.WriteAt(make([]byte, 2*MiB), 20*MiB); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dataBlocks := map[int64]bool{0: true, 3: true, 8: true, 9: true, 39: true}

	vhdx := filepath.Join(dir, "out.vhdx")
	mustSucceed(t, "convert", "--block-size", "1M", src, vhdx)
	info := infoOf(t, vhdx)
	if info.virtualSize != size || info.blockSize != MiB || info.hasParent {
		t.Errorf("virtual_size %d, block_size %d, has_parent %v", info.virtualSize, info.blockSize, info.hasParent)
	}
	if info.blockStates["fully_present"] != int64(len(dataBlocks)) {
		t.Errorf("block_states %v; want %d fully present blocks", info.blockStates, len(dataBlocks))
	}
	for _, e := range runMap(t, vhdx, info) {
		for b := *e.Start / MiB; b <= (e.end()-1)/MiB; b++ {
			if (e.State == "fully_present") != dataBlocks[b] {
				t.Errorf("extent %v: block %d holds data: %v", e, b, dataBlocks[b])
			}
		}
	}
	requireClean(t, vhdx)
	requireCat(t, vhdx, want)
	t.Run("qemu", func(t *testing.T) {
		skipWithoutQEMU(t)
		runTool(t, "qemu-img", "check", "-f", "vhdx", vhdx)
		requireQEMURaw(t, vhdx, want)
	})

	back := filepath.Join(dir, "back.raw")
	mustSucceed(t, "convert", vhdx, back)
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if d := disktest.Diff(got, want); d != "" {
		t.Fatalf("raw -> vhdx -> raw: %s", d)
	}
	// Five 1 MiB chunks hold data; the 40 MiB file must not be filled in.
	if a := allocatedBytes(t, back); a > 8*MiB {
		t.Errorf("the output raw file occupies %d bytes on disk for %d bytes of data in a %d-byte file", a, 5*MiB, size)
	}

	// The default block size (32 MiB) and 4096-byte sectors keep the content.
	for _, flags := range [][]string{nil, {"--logical-sector", "4096"}, {"--fixed", "--block-size", "4M"}} {
		out := filepath.Join(dir, fmt.Sprintf("out%d.vhdx", len(flags)))
		mustSucceed(t, append(append([]string{"convert"}, flags...), src, out)...)
		requireClean(t, out)
		requireCat(t, out, want)
	}
}

// TestConvertRawUnalignedTail: a raw file whose size is not a whole number
// of sectors becomes a disk padded with zeros to the next sector.
func TestConvertRawUnalignedTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "odd.raw")
	data := randomBytes(newRand(5), int(3*MiB+100))
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ss := range []int64{512, 4096} {
		out := filepath.Join(dir, fmt.Sprintf("odd%d.vhdx", ss))
		mustSucceed(t, "convert", "--block-size", "1M", "--logical-sector", fmt.Sprint(ss), src, out)
		want := make([]byte, (int64(len(data))+ss-1)/ss*ss)
		copy(want, data)
		requireClean(t, out)
		requireCat(t, out, want)
	}
}

// TestConvertDirtyLogToRaw: converting an image whose log needs replay
// gives what cat gives (the log replayed in memory), and leaves the input
// alone (corpusFile checks that).
func TestConvertDirtyLogToRaw(t *testing.T) {
	t.Parallel()
	dir := locateCorpus(t)
	gz := filepath.Join(dir, "vhdx-log-replay.vhdx.gz")
	if _, err := os.Stat(gz); err != nil {
		t.Skipf("%s not in the corpus", filepath.Base(gz))
	}
	path, size := corpusFile(t, corpusImage{name: filepath.Base(gz), gz: gz})
	if info := runInfo(t, path, size); !info.logReplayNeeded {
		t.Fatalf("%s: log_replay_needed is false; the test needs a dirty log", path)
	}
	out := filepath.Join(t.TempDir(), "replayed.raw")
	mustSucceed(t, "convert", path, out)
	ref, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	d := &diffWriter{ref: ref, buf: make([]byte, MiB), firstBad: -1}
	var stderr bytes.Buffer
	if code := runCLITo(t, d, &stderr, "cat", path); code != 0 {
		t.Fatalf("cat: exit %d; stderr: %s", code, clip(stderr.Bytes()))
	}
	if n := fileSize(t, out); d.n != n || d.firstBad >= 0 {
		t.Errorf("convert to raw (%d bytes) and cat (%d bytes) differ first at byte %d", n, d.n, d.firstBad)
	}
}

// TestWriteReplaysDirtyLog: writing to an image with a dirty log replays
// the log into the file first; the result reads as the replayed disk with
// the writes on top, and the log is clean afterwards.
func TestWriteReplaysDirtyLog(t *testing.T) {
	t.Parallel()
	dir := locateCorpus(t)
	gz := filepath.Join(dir, "vhdx-log-replay.vhdx.gz")
	if _, err := os.Stat(gz); err != nil {
		t.Skipf("%s not in the corpus", filepath.Base(gz))
	}
	work := t.TempDir()
	img := filepath.Join(work, "dirty.vhdx")
	if err := gunzip(gz, img); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(img, 0o644); err != nil {
		t.Fatal(err)
	}
	before := infoOf(t, img)
	if !before.logReplayNeeded {
		t.Fatalf("%s: log_replay_needed is false; the test needs a dirty log", gz)
	}
	// The expected disk: the replayed one (as convert reads it), with the
	// writes applied to the raw file too.
	want := filepath.Join(work, "want.raw")
	mustSucceed(t, "convert", img, want)
	var dataAt int64 = -1
	for _, e := range runMap(t, img, before) {
		if e.State == "fully_present" {
			dataAt = *e.Start
			break
		}
	}
	if dataAt < 0 {
		t.Fatal("the replayed image has no fully present block")
	}
	wf, err := os.OpenFile(want, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	rng := newRand(3)
	for _, w := range []cliWrite{
		{off: dataAt + 3, n: 700},      // over data the replay supplies
		{off: 700*MiB + 11, n: 100000}, // a block the image lacks
	} {
		p := randomBytes(rng, w.n)
		if r := runCLIInput(t, bytes.NewReader(p), "write", img, w.offsetArg()); r.code != 0 {
			t.Fatalf("write at %d: exit %d; stderr: %s", w.off, r.code, clip(r.stderr))
		}
		if _, err := wf.WriteAt(p, w.off); err != nil {
			t.Fatal(err)
		}
	}
	if info := infoOf(t, img); info.logReplayNeeded {
		t.Errorf("after write, log_replay_needed is still true")
	}
	requireClean(t, img)
	got := filepath.Join(work, "got.raw")
	mustSucceed(t, "convert", img, got)
	gf, err := os.Open(got)
	if err != nil {
		t.Fatal(err)
	}
	defer gf.Close()
	if n, m := fileSize(t, got), fileSize(t, want); n != m {
		t.Fatalf("the written disk has %d bytes, want %d", n, m)
	}
	if off := firstDifference(t, gf, 0, wf, 0, fileSize(t, got)); off >= 0 {
		t.Errorf("the written image differs from the replayed disk with the writes first at byte %d", off)
	}
}

// ioBytes runs the CLI under sh and returns the bytes it passed to read
// and write system calls (rchar and wchar of /proc/PID/io: a process's
// counts include those of the children it has waited for).
func ioBytes(t *testing.T, args ...string) (read, written int64) {
	t.Helper()
	if _, err := os.Stat("/proc/self/io"); err != nil {
		t.Skipf("no per-process I/O accounting here (%v)", err)
	}
	out := runTool(t, "sh", append([]string{"-c", `"$0" "$@" && cat /proc/$$/io`, vhdxBin}, args...)...)
	for _, line := range strings.Split(string(out), "\n") {
		var n int64
		if _, err := fmt.Sscanf(line, "rchar: %d", &n); err == nil {
			read = n
		}
		if _, err := fmt.Sscanf(line, "wchar: %d", &n); err == nil {
			written = n
		}
	}
	if read == 0 || written == 0 {
		t.Fatalf("no rchar and wchar in /proc/PID/io:\n%s", out)
	}
	return read, written
}

// TestConvertScatteredDataCopiedOnce: convert and merge copy in 1 MiB
// chunks, skipping chunks of zeros. Each chunk holding data must be read
// and written once, not once for every data range that starts in it:
// a raw file with data in every other 4 KiB page has 256 such ranges per
// chunk, and so has a child whose written sectors are scattered.
func TestConvertScatteredDataCopiedOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	const size = 16 * MiB
	src := filepath.Join(dir, "scattered.raw")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	page := bytes.Repeat([]byte{0xab}, 4096)
	for off := int64(0); off < size; off += 2 * 4096 {
		if _, err := f.WriteAt(page, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.raw")
	read, written := ioBytes(t, "convert", src, out)
	t.Logf("convert of %d bytes with data in every other page: read %d bytes, wrote %d", size, read, written)
	if written > 2*size || read > 2*size {
		t.Errorf("convert of a %d-byte raw file with data in every other page read %d bytes and wrote %d (%.0fx the file)", size, read, written, float64(written)/float64(size))
	}

	// A child with 32 sectors written, each in a different place of its
	// first block, over an empty base.
	base, child := filepath.Join(dir, "base.vhdx"), filepath.Join(dir, "child.avhdx")
	mustSucceed(t, "create", "--block-size", "1M", base, "4M")
	mustSucceed(t, "create", "--parent", base, child)
	m := &diskModel{path: child, data: make([]byte, 4*MiB), rng: newRand(32)}
	for i := int64(0); i < 32; i++ {
		m.write(t, cliWrite{off: i * 8 * 512, n: 512})
	}
	merged := filepath.Join(dir, "merged.raw")
	read, written = ioBytes(t, "merge", child, merged)
	t.Logf("merge of a child with 32 scattered sectors: read %d bytes, wrote %d", read, written)
	if written > 2*MiB {
		t.Errorf("merge of a child with 32 scattered sectors in one 1 MiB chunk wrote %d bytes", written)
	}
	got, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	if d := disktest.Diff(got, m.data); d != "" {
		t.Errorf("merged: %s", d)
	}
}
