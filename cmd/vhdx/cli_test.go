// Black-box tests of the vhdx command. TestMain builds the binary once with
// `go build`; every test runs it with os/exec and checks only what the CLI
// contract promises:
//
//   - the real-world corpus (../shared/corpus next to the repository, or
//     $VHDX_CORPUS) against the independently gathered facts in MANIFEST.json;
//   - images written by QEMU (qemu-img, qemu-io) against QEMU's own reading;
//   - exit codes and error output.
//
// Corpus tests skip when the corpus is absent, QEMU tests when qemu-img or
// qemu-io are not on PATH (build/setup.sh installs them).
package main_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	MiB = int64(1) << 20
	GiB = int64(1) << 30

	// Upper bound for one run of the CLI or a QEMU tool; a reader that needs
	// longer for a corpus image is a failure, not a slow pass.
	commandTimeout = 5 * time.Minute
)

var (
	vhdxBin string // the CLI under test, built by TestMain
	scratch string // TestMain's temporary directory (binary, unpacked corpus)
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vhdx-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	scratch = dir
	vhdxBin = filepath.Join(dir, "vhdx")
	build := exec.Command("go", "build", "-o", vhdxBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the vhdx command: %v\n", err)
		return 1
	}
	return m.Run()
}

// ---------------------------------------------------------------------------
// Running the CLI and other tools

type cliResult struct {
	stdout, stderr []byte
	code           int
}

// runCLI runs the CLI to completion with no stdin and returns its output and
// exit code. Only a failure to run at all (or a timeout) is fatal.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runCLITo(t, &stdout, &stderr, args...)
	return cliResult{stdout.Bytes(), stderr.Bytes(), code}
}

// runCLITo is runCLI streaming stdout into w, for output too big to hold.
func runCLITo(t *testing.T, w io.Writer, stderr *bytes.Buffer, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, vhdxBin, args...)
	cmd.Stdout, cmd.Stderr = w, stderr
	err := cmd.Run()
	if bytes.Contains(stderr.Bytes(), []byte("\ngoroutine ")) {
		t.Errorf("vhdx %s panicked:\n%s", strings.Join(args, " "), clip(stderr.Bytes()))
	}
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &exitErr) || exitErr.ExitCode() < 0 {
		t.Fatalf("vhdx %s: %v (ctx: %v); stderr: %s", strings.Join(args, " "), err, ctx.Err(), clip(stderr.Bytes()))
	}
	return exitErr.ExitCode()
}

// mustSucceed runs the CLI and fails the test unless it exits 0.
func mustSucceed(t *testing.T, args ...string) []byte {
	t.Helper()
	r := runCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("vhdx %s: exit %d; stderr: %s", strings.Join(args, " "), r.code, clip(r.stderr))
	}
	return r.stdout
}

// runTool runs an external tool (qemu-img, qemu-io) and fails on a non-zero exit.
func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return disktest.Cmd(t, exec.CommandContext(ctx, name, args...))
}

func clip(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// decodeJSON decodes exactly one JSON object, keeping numbers exact.
func decodeJSON(t *testing.T, what string, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: output is not a JSON object: %v\n%s", what, err, clip(data))
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: output continues after the JSON object\n%s", what, clip(data))
	}
	return v
}

// ---------------------------------------------------------------------------
// info --json

var stateNames = []string{"not_present", "undefined", "zero", "unmapped", "fully_present", "partially_present"}

func isStateName(s string) bool {
	for _, n := range stateNames {
		if n == s {
			return true
		}
	}
	return false
}

// stateCounts reads a block-state object; absent states count 0.
func stateCounts(v any) (map[string]int64, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object: %v", v)
	}
	counts := make(map[string]int64, len(stateNames))
	for _, n := range stateNames {
		counts[n] = 0
	}
	for k, raw := range obj {
		if !isStateName(k) {
			return nil, fmt.Errorf("unknown state %q", k)
		}
		n, ok := raw.(json.Number)
		if !ok {
			return nil, fmt.Errorf("count of %q is not a number: %v", k, raw)
		}
		c, err := n.Int64()
		if err != nil || c < 0 {
			return nil, fmt.Errorf("count of %q is not a non-negative integer: %v", k, n)
		}
		counts[k] = c
	}
	return counts, nil
}

func sumCounts(c map[string]int64) int64 {
	var s int64
	for _, v := range c {
		s += v
	}
	return s
}

// infoFacts is what the other checks need from `info --json`.
type infoFacts struct {
	raw              map[string]any
	virtualSize      int64
	blockSize        int64
	logicalSector    int64
	fileSize         int64
	payloadBlocks    int64
	leaveAllocated   bool
	hasParent        bool
	logReplayNeeded  bool
	blockStates      map[string]int64 // after log replay
	blockStatesOnDsk map[string]int64 // as the BAT on disk says
}

// fieldReader reports every missing or mistyped key, not just the first.
type fieldReader struct {
	t   *testing.T
	m   map[string]any
	bad bool
}

func (r *fieldReader) fail(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("info --json: "+format, args...)
	r.bad = true
}

func (r *fieldReader) num(key string) int64 {
	r.t.Helper()
	n, ok := r.m[key].(json.Number)
	if !ok {
		r.fail("%q is missing or not a number: %v", key, r.m[key])
		return 0
	}
	v, err := n.Int64()
	if err != nil {
		r.fail("%q is not an integer: %v", key, n)
	}
	return v
}

func (r *fieldReader) flag(key string) bool {
	r.t.Helper()
	v, ok := r.m[key].(bool)
	if !ok {
		r.fail("%q is missing or not a bool: %v", key, r.m[key])
	}
	return v
}

func (r *fieldReader) text(key string) string {
	r.t.Helper()
	v, ok := r.m[key].(string)
	if !ok {
		r.fail("%q is missing or not a string: %v", key, r.m[key])
	}
	return v
}

func (r *fieldReader) states(key string) map[string]int64 {
	r.t.Helper()
	c, err := stateCounts(r.m[key])
	if err != nil {
		r.fail("%q: %v", key, err)
	}
	return c
}

// runInfo runs `info --json`, checks the shape and the internal consistency
// of the answer, and returns the facts. fileSize is the image's real size.
func runInfo(t *testing.T, path string, fileSize int64) infoFacts {
	t.Helper()
	top := decodeJSON(t, "info --json", mustSucceed(t, "info", "--json", path))
	if top["format"] != "vhdx" {
		t.Fatalf("info --json: format = %v, want vhdx", top["format"])
	}
	m, ok := top["vhdx"].(map[string]any)
	if !ok {
		t.Fatalf("info --json: no vhdx object: %v", top)
	}
	for _, k := range []string{"virtual_size", "file_size", "allocated_size", "disk_type"} {
		if fmt.Sprint(top[k]) != fmt.Sprint(m[k]) {
			t.Errorf("info --json: %s = %v, the vhdx facts say %v", k, top[k], m[k])
		}
	}
	if fmt.Sprint(top["allocation_unit"]) != fmt.Sprint(m["block_size"]) || fmt.Sprint(top["sector_size"]) != fmt.Sprint(m["logical_sector_size"]) {
		t.Errorf("info --json: allocation_unit %v / sector_size %v differ from block_size %v / logical_sector_size %v", top["allocation_unit"], top["sector_size"], m["block_size"], m["logical_sector_size"])
	}
	r := &fieldReader{t: t, m: m}
	f := infoFacts{
		raw:              m,
		virtualSize:      r.num("virtual_size"),
		blockSize:        r.num("block_size"),
		logicalSector:    r.num("logical_sector_size"),
		fileSize:         r.num("file_size"),
		payloadBlocks:    r.num("payload_blocks"),
		leaveAllocated:   r.flag("leave_blocks_allocated"),
		hasParent:        r.flag("has_parent"),
		logReplayNeeded:  r.flag("log_replay_needed"),
		blockStates:      r.states("block_states"),
		blockStatesOnDsk: r.states("block_states_on_disk"),
	}
	r.text("creator")
	physical := r.num("physical_sector_size")
	chunkRatio := r.num("chunk_ratio")
	r.num("log_entries_in_active_sequence")
	if seq, ok := m["header_sequence_numbers"].([]any); !ok || len(seq) != 2 {
		r.fail("header_sequence_numbers is not an array of two numbers: %v", m["header_sequence_numbers"])
	} else {
		for _, s := range seq {
			if _, ok := s.(json.Number); !ok {
				r.fail("header_sequence_numbers holds a non-number: %v", s)
			}
		}
	}
	if r.bad {
		t.FailNow()
	}

	if f.fileSize != fileSize {
		t.Errorf("file_size = %d, the file has %d bytes", f.fileSize, fileSize)
	}
	if f.blockSize < MiB || f.blockSize > 256*MiB || f.blockSize&(f.blockSize-1) != 0 {
		t.Fatalf("block_size = %d, not a power of two in [1 MiB, 256 MiB]", f.blockSize)
	}
	if f.logicalSector != 512 && f.logicalSector != 4096 {
		t.Fatalf("logical_sector_size = %d, want 512 or 4096", f.logicalSector)
	}
	if physical != 512 && physical != 4096 {
		t.Errorf("physical_sector_size = %d, want 512 or 4096", physical)
	}
	if want := (int64(1) << 23) * f.logicalSector / f.blockSize; chunkRatio != want {
		t.Errorf("chunk_ratio = %d, want 2^23*%d/%d = %d", chunkRatio, f.logicalSector, f.blockSize, want)
	}
	if want := (f.virtualSize + f.blockSize - 1) / f.blockSize; f.payloadBlocks != want {
		t.Errorf("payload_blocks = %d, want ceil(%d/%d) = %d", f.payloadBlocks, f.virtualSize, f.blockSize, want)
	}
	if s := sumCounts(f.blockStates); s != f.payloadBlocks {
		t.Errorf("block_states sum to %d blocks, payload_blocks = %d: %v", s, f.payloadBlocks, f.blockStates)
	}
	if s := sumCounts(f.blockStatesOnDsk); s != f.payloadBlocks {
		t.Errorf("block_states_on_disk sum to %d blocks, payload_blocks = %d: %v", s, f.payloadBlocks, f.blockStatesOnDsk)
	}
	if !f.logReplayNeeded && !reflect.DeepEqual(f.blockStates, f.blockStatesOnDsk) {
		t.Errorf("no log replay needed, yet block_states %v differ from block_states_on_disk %v", f.blockStates, f.blockStatesOnDsk)
	}
	return f
}

// ---------------------------------------------------------------------------
// map --json

type extent struct {
	Start      *int64 `json:"start"`
	Length     *int64 `json:"length"`
	State      string `json:"state"`
	FileOffset *int64 `json:"file_offset"`
}

func (e extent) end() int64 { return *e.Start + *e.Length }

func (e extent) String() string {
	s := fmt.Sprintf("[%d, %d) %s", *e.Start, e.end(), e.State)
	if e.FileOffset != nil {
		s += fmt.Sprintf(" @%d", *e.FileOffset)
	}
	return s
}

// runMap runs `map --json` and checks the extents against the contract and
// against the block counts of `info --json`. The extents are returned in order.
func runMap(t *testing.T, path string, info infoFacts) []extent {
	t.Helper()
	out := mustSucceed(t, "map", "--json", path)
	var doc struct {
		Extents *[]extent `json:"extents"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("map --json: %v\n%s", err, clip(out))
	}
	if doc.Extents == nil {
		t.Fatalf("map --json: no \"extents\" array\n%s", clip(out))
	}
	exts := *doc.Extents
	for i, e := range exts {
		if e.Start == nil || e.Length == nil {
			t.Fatalf("map --json: extent %d lacks start or length", i)
		}
	}

	// The extents tile [0, virtual_size) in order, without empty extents.
	var pos int64
	for i, e := range exts {
		if *e.Start != pos || *e.Length <= 0 {
			t.Fatalf("extent %d is %v; want a non-empty extent starting at %d", i, e, pos)
		}
		pos = e.end()
	}
	if pos != info.virtualSize {
		t.Fatalf("extents end at %d, virtual_size is %d", pos, info.virtualSize)
	}

	bytesIn := make(map[string]int64)
	for i, e := range exts {
		if !isStateName(e.State) {
			t.Errorf("extent %v: unknown state", e)
		}
		bytesIn[e.State] += *e.Length
		switch {
		case e.State == "fully_present" && e.FileOffset == nil:
			t.Errorf("extent %v: fully present data without file_offset", e)
		case e.State == "not_present" && e.FileOffset != nil:
			t.Errorf("extent %v: not present, yet has a file_offset", e)
		}
		if e.FileOffset != nil && (*e.FileOffset < 0 || *e.FileOffset+*e.Length > info.fileSize) {
			t.Errorf("extent %v: data lies outside the %d-byte file", e, info.fileSize)
		}
		if i > 0 && mergeable(exts[i-1], e) {
			t.Errorf("extents %v and %v are alike and adjacent: they should be one", exts[i-1], e)
		}
	}

	// Per-state bytes agree with the block counts; the last block may be
	// partial, and it is in the state of the last extent.
	want := make(map[string]int64)
	for _, s := range stateNames {
		want[s] = info.blockStates[s] * info.blockSize
	}
	if tail := info.virtualSize % info.blockSize; tail != 0 && len(exts) > 0 {
		want[exts[len(exts)-1].State] -= info.blockSize - tail
	}
	for _, s := range stateNames {
		if bytesIn[s] != want[s] {
			t.Errorf("map has %d bytes %s; info's block_states (%d blocks of %d, virtual size %d) imply %d",
				bytesIn[s], s, info.blockStates[s], info.blockSize, info.virtualSize, want[s])
		}
	}
	return exts
}

// mergeable reports whether b continues a in every respect (state, and file
// offset when data-backed), so that the map should have merged them.
func mergeable(a, b extent) bool {
	if a.State != b.State || (a.FileOffset == nil) != (b.FileOffset == nil) {
		return false
	}
	return a.FileOffset == nil || *a.FileOffset+*a.Length == *b.FileOffset
}

// ---------------------------------------------------------------------------
// check --json

type finding struct {
	Code      string          `json:"code"`
	Severity  string          `json:"severity"`
	Structure string          `json:"structure"`
	Offset    json.RawMessage `json:"offset"`
	Message   string          `json:"message"`
}

func (f finding) String() string {
	return fmt.Sprintf("%s (%s at offset %s): %s", f.Code, f.Structure, f.Offset, f.Message)
}

// runCheckClean runs `check --json` and requires exit 0, no error findings,
// and counts that agree with the findings.
func runCheckClean(t *testing.T, path string) {
	t.Helper()
	r := runCLI(t, "check", "--json", path)
	var doc struct {
		Findings json.RawMessage `json:"findings"`
		Errors   *int            `json:"errors"`
		Warnings *int            `json:"warnings"`
	}
	if err := json.Unmarshal(r.stdout, &doc); err != nil {
		t.Fatalf("check --json (exit %d): %v\nstdout: %s\nstderr: %s", r.code, err, clip(r.stdout), clip(r.stderr))
	}
	if !bytes.HasPrefix(bytes.TrimSpace(doc.Findings), []byte("[")) || doc.Errors == nil || doc.Warnings == nil {
		t.Fatalf("check --json: want {\"findings\":[...], \"errors\":N, \"warnings\":N}, got %s", clip(r.stdout))
	}
	var findings []finding
	if err := json.Unmarshal(doc.Findings, &findings); err != nil {
		t.Fatalf("check --json: findings: %v", err)
	}
	var errs, warns int
	for _, f := range findings {
		switch f.Severity {
		case "error":
			errs++
			t.Errorf("error finding: %s", f)
		case "warning":
			warns++
			t.Logf("warning finding: %s", f)
		case "info":
		default:
			t.Errorf("finding with severity %q (want error, warning or info): %s", f.Severity, f)
		}
		if f.Code == "" || f.Message == "" {
			t.Errorf("finding without code or message: %s", f)
		}
	}
	if *doc.Errors != errs || *doc.Warnings != warns {
		t.Errorf("check --json says errors=%d warnings=%d, its findings hold %d and %d", *doc.Errors, *doc.Warnings, errs, warns)
	}
	if r.code != 0 {
		t.Errorf("check exit code %d, want 0 (no errors); stderr: %s", r.code, clip(r.stderr))
	}
}

// ---------------------------------------------------------------------------
// The corpus of real images

type corpusImage struct {
	name  string         // e.g. "btrfs.vhdx.gz"
	gz    string         // path of the compressed image
	facts map[string]any // its MANIFEST.json entry
}

func locateCorpus(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("VHDX_CORPUS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
			t.Fatalf("VHDX_CORPUS=%s: %v", dir, err)
		}
		return dir
	}
	// Tests run in cmd/vhdx; the corpus sits in ../shared next to the repository.
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		abs, _ := filepath.Abs(dir)
		t.Skipf("corpus not found (no %s/MANIFEST.json); set VHDX_CORPUS to the directory holding MANIFEST.json and *.vhdx.gz", abs)
	}
	return dir
}

func loadCorpus(t *testing.T) []corpusImage {
	t.Helper()
	dir := locateCorpus(t)
	data, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var manifest struct {
		Images map[string]map[string]any `json:"images"`
	}
	if err := dec.Decode(&manifest); err != nil {
		t.Fatalf("MANIFEST.json: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.vhdx.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var images []corpusImage
	listed := make(map[string]bool)
	for _, gz := range files {
		name := filepath.Base(gz)
		facts, ok := manifest.Images[name]
		if !ok {
			t.Errorf("%s is not described in MANIFEST.json", name)
			continue
		}
		listed[name] = true
		images = append(images, corpusImage{name, gz, facts})
	}
	for name := range manifest.Images {
		if !listed[name] {
			t.Errorf("MANIFEST.json describes %s, which is not in %s", name, dir)
		}
	}
	if len(images) == 0 {
		t.Fatalf("no *.vhdx.gz images in %s", dir)
	}
	return images
}

// unpacked caches the decompressed corpus for the whole test binary.
var unpacked = struct {
	sync.Mutex
	m map[string]*unpackedImage
}{m: make(map[string]*unpackedImage)}

type unpackedImage struct {
	once  sync.Once
	path  string
	size  int64
	mtime time.Time
	err   error
}

// corpusFile returns the decompressed image, unpacking it on first use, and
// checks when the test ends that the CLI left the file untouched (a reader
// must replay the log in memory, never into the file).
func corpusFile(t *testing.T, img corpusImage) (path string, size int64) {
	t.Helper()
	unpacked.Lock()
	u := unpacked.m[img.gz]
	if u == nil {
		u = &unpackedImage{}
		unpacked.m[img.gz] = u
	}
	unpacked.Unlock()
	u.once.Do(func() {
		u.path = filepath.Join(scratch, strings.TrimSuffix(img.name, ".gz"))
		u.err = gunzip(img.gz, u.path)
		if u.err == nil {
			var fi os.FileInfo
			fi, u.err = os.Stat(u.path)
			if u.err == nil {
				u.size, u.mtime = fi.Size(), fi.ModTime()
			}
		}
	})
	if u.err != nil {
		t.Fatalf("unpacking %s: %v", img.name, u.err)
	}
	t.Cleanup(func() {
		fi, err := os.Stat(u.path)
		if err != nil || fi.Size() != u.size || !fi.ModTime().Equal(u.mtime) {
			t.Errorf("%s was modified while testing the CLI (a reader must not write its input)", img.name)
		}
	})
	return u.path, u.size
}

func gunzip(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// forEachCorpusImage runs fn for every corpus image as parallel subtests.
func forEachCorpusImage(t *testing.T, fn func(t *testing.T, img corpusImage, path string, size int64)) {
	for _, img := range loadCorpus(t) {
		t.Run(strings.TrimSuffix(img.name, ".vhdx.gz"), func(t *testing.T) {
			t.Parallel()
			path, size := corpusFile(t, img)
			fn(t, img, path, size)
		})
	}
}

// Manifest facts and the info --json keys reporting them.
var manifestToInfo = map[string]string{
	"creator":                        "creator",
	"file_size":                      "file_size",
	"virtual_size":                   "virtual_size",
	"block_size":                     "block_size",
	"logical_sector_size":            "logical_sector_size",
	"physical_sector_size":           "physical_sector_size",
	"leave_blocks_allocated":         "leave_blocks_allocated",
	"has_parent":                     "has_parent",
	"header_sequence_numbers":        "header_sequence_numbers",
	"chunk_ratio":                    "chunk_ratio",
	"payload_blocks":                 "payload_blocks",
	"block_states_on_disk":           "block_states_on_disk",
	"log_replay_needed":              "log_replay_needed",
	"log_entries_in_active_sequence": "log_entries_in_active_sequence",
	"block_states_after_replay":      "block_states",
}

// Manifest facts info does not report, and where they are checked instead.
var manifestNotInInfo = map[string]string{
	"virtual_sha256": "TestCorpusCat",
	"partitions":     "TestCorpusParts",
}

func TestCorpusInfo(t *testing.T) {
	forEachCorpusImage(t, func(t *testing.T, img corpusImage, path string, size int64) {
		info := runInfo(t, path, size)
		keys := make([]string, 0, len(img.facts))
		for k := range img.facts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			want := img.facts[key]
			infoKey, ok := manifestToInfo[key]
			if !ok {
				if _, known := manifestNotInInfo[key]; !known {
					t.Logf("MANIFEST.json fact %q is not compared (new fact? map it in manifestToInfo)", key)
				}
				continue
			}
			got, present := info.raw[infoKey]
			if !present {
				t.Errorf("info --json lacks %q (manifest %q = %v)", infoKey, key, want)
				continue
			}
			if strings.HasPrefix(key, "block_states") {
				w, err1 := stateCounts(want)
				g, err2 := stateCounts(got)
				if err1 != nil || err2 != nil {
					t.Errorf("%s: manifest %v (%v), info %v (%v)", key, want, err1, got, err2)
				} else if !reflect.DeepEqual(w, g) {
					t.Errorf("info %s = %v, manifest %s = %v", infoKey, g, key, w)
				}
				continue
			}
			if !equalJSON(got, want) {
				t.Errorf("info %s = %v, manifest says %v", infoKey, got, want)
			}
		}

		// The human-readable form works too.
		if out := mustSucceed(t, "info", path); len(bytes.TrimSpace(out)) == 0 {
			t.Errorf("info without --json printed nothing")
		}
	})
}

// equalJSON compares decoded JSON values, numbers by value.
func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if xi, err := x.Int64(); err == nil {
			if yi, err := y.Int64(); err == nil {
				return xi == yi
			}
		}
		xf, err1 := x.Float64()
		yf, err2 := y.Float64()
		return err1 == nil && err2 == nil && xf == yf
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a, b)
	}
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func TestCorpusCat(t *testing.T) {
	forEachCorpusImage(t, func(t *testing.T, img corpusImage, path string, size int64) {
		wantSum, _ := img.facts["virtual_sha256"].(string)
		sizeNum, _ := img.facts["virtual_size"].(json.Number)
		wantSize, err := sizeNum.Int64()
		if wantSum == "" || err != nil {
			t.Fatalf("MANIFEST.json lacks virtual_sha256 or virtual_size for %s", img.name)
		}
		h := sha256.New()
		out := &countingWriter{w: h}
		var stderr bytes.Buffer
		if code := runCLITo(t, out, &stderr, "cat", path); code != 0 {
			t.Fatalf("cat: exit %d; stderr: %s", code, clip(stderr.Bytes()))
		}
		if out.n != wantSize {
			t.Errorf("cat wrote %d bytes, virtual size is %d", out.n, wantSize)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != wantSum {
			t.Errorf("sha256 of cat = %s, manifest virtual_sha256 = %s", got, wantSum)
		}
	})
}

func TestCorpusCheck(t *testing.T) {
	forEachCorpusImage(t, func(t *testing.T, img corpusImage, path string, size int64) {
		runCheckClean(t, path)
		if r := runCLI(t, "check", path); r.code != 0 {
			t.Errorf("check without --json: exit %d, want 0; stderr: %s", r.code, clip(r.stderr))
		}
	})
}

func TestCorpusMap(t *testing.T) {
	forEachCorpusImage(t, func(t *testing.T, img corpusImage, path string, size int64) {
		runMap(t, path, runInfo(t, path, size))
		if out := mustSucceed(t, "map", path); len(bytes.TrimSpace(out)) == 0 {
			t.Errorf("map without --json printed nothing")
		}
	})
}

// ---------------------------------------------------------------------------
// Cross-check against QEMU

type qemuCase struct {
	name      string
	fixed     bool
	zeroState bool // QEMU's block_state_zero: new blocks start as ZERO instead of allocated
	blockSize int64
	size      int64
}

// Sizes stay modest: fixed images are sparse, but cat streams every byte.
var qemuCases = []qemuCase{
	{"dynamic-1M", false, true, 1 * MiB, 5*MiB + 4096},
	// With QEMU's default block_state_zero=on every block of a new fixed
	// image is ZERO with no file offset; the writes leave blocks 6 and 7 so.
	{"fixed-1M-zero-state", true, true, 1 * MiB, 9*MiB + 4096},
	{"dynamic-2M", false, true, 2 * MiB, 100*MiB + 512},
	{"fixed-2M", true, false, 2 * MiB, 100*MiB + 512},
	{"dynamic-32M", false, true, 32 * MiB, GiB},
	{"fixed-32M", true, false, 32 * MiB, 100*MiB + 512},
	{"dynamic-256M", false, true, 256 * MiB, 3000 * MiB},
	// QEMU ends a fixed image right after the last byte of data, so the
	// last block reaches past the end of the file.
	{"fixed-256M", true, false, 256 * MiB, 600*MiB + 512},
}

// qemuWrite is one qemu-io write: pattern fill, or write -z when pattern is 0.
type qemuWrite struct {
	off, len int64
	pattern  byte
}

func (w qemuWrite) command() string {
	if w.pattern == 0 {
		return fmt.Sprintf("write -z %d %d", w.off, w.len)
	}
	return fmt.Sprintf("write -P 0x%02x %d %d", w.pattern, w.off, w.len)
}

// qemuWrites scatters writes over a disk: first sector, across the first
// block boundary, the middle, a larger run partly zeroed again, a zeroed
// range at the start of a block (a whole block when blocks are small), and
// the last sector.
func qemuWrites(bs, size int64) []qemuWrite {
	quarter := size / 4 &^ 511
	run := min(3*bs, 4*MiB)
	ws := []qemuWrite{
		{0, 512, 0x11},
		{bs - 4096, 8192, 0x22},
		{size / 2 &^ 511, 64 << 10, 0x33},
		{quarter, run, 0x55},
		{quarter + 4096, run / 2, 0},
	}
	if n := (size + bs - 1) / bs; n >= 3 {
		ws = append(ws, qemuWrite{(n - 2) * bs, min(bs, 4*MiB), 0})
	}
	ws = append(ws, qemuWrite{size - 512, 512, 0x44})
	for i := range ws { // keep every write inside the disk
		ws[i].len = min(ws[i].len, size-ws[i].off)
	}
	return ws
}

type span struct{ start, end int64 }

// patternSpans returns the ranges holding qemu-io patterns once all writes
// are applied in order, each write -z removing what it covers.
func patternSpans(ws []qemuWrite) []span {
	var set []span
	for _, w := range ws {
		cut := span{w.off, w.off + w.len}
		var next []span
		for _, s := range set {
			if s.end <= cut.start || s.start >= cut.end {
				next = append(next, s)
				continue
			}
			if s.start < cut.start {
				next = append(next, span{s.start, cut.start})
			}
			if s.end > cut.end {
				next = append(next, span{cut.end, s.end})
			}
		}
		if w.pattern != 0 {
			next = append(next, cut)
		}
		set = next
	}
	return set
}

// diffWriter compares what is written to it with a reference stream.
type diffWriter struct {
	ref      io.Reader
	buf      []byte
	n        int64 // bytes written so far
	firstBad int64 // offset of the first differing byte, -1 if none yet
}

func (d *diffWriter) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		chunk := p[done:]
		if len(chunk) > len(d.buf) {
			chunk = chunk[:len(d.buf)]
		}
		m, _ := io.ReadFull(d.ref, d.buf[:len(chunk)])
		if d.firstBad < 0 && !bytes.Equal(chunk, d.buf[:m]) {
			i := 0
			for i < m && chunk[i] == d.buf[i] {
				i++
			}
			d.firstBad = d.n + int64(done+i)
		}
		done += len(chunk)
	}
	d.n += int64(len(p))
	return len(p), nil
}

// firstDifference compares n bytes of a at aOff with b at bOff and returns
// the index of the first difference, or -1.
func firstDifference(t *testing.T, a io.ReaderAt, aOff int64, b io.ReaderAt, bOff, n int64) int64 {
	t.Helper()
	bufA, bufB := make([]byte, MiB), make([]byte, MiB)
	for done := int64(0); done < n; done += MiB {
		k := min(MiB, n-done)
		if _, err := a.ReadAt(bufA[:k], aOff+done); err != nil {
			t.Fatalf("reading %d bytes at %d: %v", k, aOff+done, err)
		}
		if _, err := b.ReadAt(bufB[:k], bOff+done); err != nil {
			t.Fatalf("reading %d bytes at %d: %v", k, bOff+done, err)
		}
		if !bytes.Equal(bufA[:k], bufB[:k]) {
			i := int64(0)
			for bufA[i] == bufB[i] {
				i++
			}
			return done + i
		}
	}
	return -1
}

func TestQEMU(t *testing.T) {
	for _, tool := range []string{"qemu-img", "qemu-io"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: install qemu-utils (build/setup.sh does) to cross-check against QEMU", tool)
		}
	}
	for _, c := range qemuCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testQEMUCase(t, c)
		})
	}
}

func testQEMUCase(t *testing.T, c qemuCase) {
	dir := t.TempDir()
	img := filepath.Join(dir, "img.vhdx")
	raw := filepath.Join(dir, "img.raw")
	subformat, zeroState := "dynamic", "off"
	if c.fixed {
		subformat = "fixed"
	}
	if c.zeroState {
		zeroState = "on"
	}
	opts := fmt.Sprintf("subformat=%s,block_size=%d,block_state_zero=%s", subformat, c.blockSize, zeroState)
	runTool(t, "qemu-img", "create", "-q", "-f", "vhdx", "-o", opts, img, fmt.Sprint(c.size))

	writes := qemuWrites(c.blockSize, c.size)
	args := []string{"-f", "vhdx"}
	for _, w := range writes {
		args = append(args, "-c", w.command())
	}
	runTool(t, "qemu-io", append(args, img)...)

	var qinfo struct {
		VirtualSize int64 `json:"virtual-size"`
		ClusterSize int64 `json:"cluster-size"`
	}
	out := runTool(t, "qemu-img", "info", "--output=json", img)
	if err := json.Unmarshal(out, &qinfo); err != nil {
		t.Fatalf("qemu-img info: %v\n%s", err, out)
	}
	if qinfo.VirtualSize != c.size || qinfo.ClusterSize != c.blockSize {
		t.Fatalf("qemu-img info reports size %d, block size %d; created %d, %d", qinfo.VirtualSize, qinfo.ClusterSize, c.size, c.blockSize)
	}
	runTool(t, "qemu-img", "convert", "-f", "vhdx", "-O", "raw", img, raw)

	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	var info infoFacts
	t.Run("info", func(t *testing.T) {
		info = runInfo(t, img, fi.Size())
		if info.virtualSize != qinfo.VirtualSize {
			t.Errorf("virtual_size = %d, qemu-img says %d", info.virtualSize, qinfo.VirtualSize)
		}
		if info.blockSize != qinfo.ClusterSize {
			t.Errorf("block_size = %d, qemu-img says %d", info.blockSize, qinfo.ClusterSize)
		}
		// qemu-img info does not report sector sizes; QEMU only creates
		// 512-byte logical sectors.
		if info.logicalSector != 512 {
			t.Errorf("logical_sector_size = %d, QEMU writes 512", info.logicalSector)
		}
		// QEMU sets LeaveBlocksAllocated exactly for fixed images.
		if info.leaveAllocated != c.fixed {
			t.Errorf("leave_blocks_allocated = %v for a %s image", info.leaveAllocated, subformat)
		}
		if info.hasParent {
			t.Errorf("has_parent = true for a %s image", subformat)
		}
		// qemu-img info refuses an image whose log needs replay, so it is clean.
		if info.logReplayNeeded {
			t.Errorf("log_replay_needed = true; QEMU left a clean log")
		}
	})

	t.Run("cat", func(t *testing.T) {
		ref, err := os.Open(raw)
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		d := &diffWriter{ref: ref, buf: make([]byte, MiB), firstBad: -1}
		var stderr bytes.Buffer
		if code := runCLITo(t, d, &stderr, "cat", img); code != 0 {
			t.Fatalf("cat: exit %d; stderr: %s", code, clip(stderr.Bytes()))
		}
		if d.n != c.size {
			t.Errorf("cat wrote %d bytes, virtual size is %d", d.n, c.size)
		}
		if d.firstBad >= 0 {
			t.Errorf("cat differs from qemu-img convert first at byte %d (block %d, offset %d in it)",
				d.firstBad, d.firstBad/c.blockSize, d.firstBad%c.blockSize)
		}
	})

	t.Run("map", func(t *testing.T) {
		if info.raw == nil {
			t.Skip("info failed")
		}
		exts := runMap(t, img, info)
		for _, s := range patternSpans(writes) {
			i := sort.Search(len(exts), func(i int) bool { return exts[i].end() > s.start })
			for ; i < len(exts) && *exts[i].Start < s.end; i++ {
				if exts[i].State != "fully_present" {
					t.Errorf("bytes [%d, %d) hold data written by qemu-io, but extent %v is not fully_present", s.start, s.end, exts[i])
				}
			}
		}
		// The log is clean, so a fully present extent's bytes sit at its
		// file_offset in the image.
		vf, err1 := os.Open(img)
		rf, err2 := os.Open(raw)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		defer vf.Close()
		defer rf.Close()
		for _, e := range exts {
			if e.State == "fully_present" && e.FileOffset != nil {
				if off := firstDifference(t, vf, *e.FileOffset, rf, *e.Start, *e.Length); off >= 0 {
					t.Errorf("extent %v: the file at file_offset differs from the virtual disk at byte %d", e, *e.Start+off)
				}
			}
		}
	})

	t.Run("check", func(t *testing.T) { runCheckClean(t, img) })
}

// ---------------------------------------------------------------------------
// Command-line behaviour

// requireOneLine fails unless stderr holds exactly one non-empty line.
func requireOneLine(t *testing.T, what string, stderr []byte) {
	t.Helper()
	msg := strings.TrimSuffix(string(stderr), "\n")
	if strings.TrimSpace(msg) == "" || strings.Contains(msg, "\n") {
		t.Errorf("%s: want one line on stderr, got %q", what, clip(stderr))
	}
}

func TestUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	zeros := filepath.Join(dir, "zeros.vhdx")
	if err := os.WriteFile(zeros, make([]byte, 2*MiB), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.vhdx")
	for _, file := range []string{zeros, missing} {
		for _, args := range [][]string{
			{"check"}, {"check", "--json"},
			{"info"}, {"info", "--json"},
			{"map"}, {"map", "--json"},
			{"cat"},
		} {
			args := append(args, file)
			what := "vhdx " + strings.Join(args, " ")
			r := runCLI(t, args...)
			switch {
			case args[0] == "check" && r.code != 2:
				t.Errorf("%s: exit %d, want 2 (file cannot be read)", what, r.code)
			case r.code == 0:
				t.Errorf("%s: exit 0 for a file that is not a VHDX", what)
			}
			requireOneLine(t, what, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"info", "check", "map", "cat"} {
		r := runCLI(t, cmd, "--help")
		if r.code != 0 {
			t.Errorf("vhdx %s --help: exit %d, want 0; stderr: %s", cmd, r.code, clip(r.stderr))
		}
		if len(bytes.TrimSpace(r.stdout)) == 0 && len(bytes.TrimSpace(r.stderr)) == 0 {
			t.Errorf("vhdx %s --help printed nothing", cmd)
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"info"}, // no FILE
		{"check"},
		{"map"},
		{"cat"},
	} {
		r := runCLI(t, args...)
		if r.code == 0 {
			t.Errorf("vhdx %s: exit 0, want non-zero", strings.Join(args, " "))
		}
		if len(bytes.TrimSpace(r.stderr)) == 0 {
			t.Errorf("vhdx %s: nothing on stderr", strings.Join(args, " "))
		}
	}
}
