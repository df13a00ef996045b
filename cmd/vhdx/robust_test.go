package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/internal/hostile"
	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// These tests run the commands in-process (run), so that they can measure
// the memory a command allocates, on images built by internal/vhdxbuild
// with the defects a robustness campaign found.

const (
	kib = 1 << 10
	mib = 1 << 20
)

// runMain runs the CLI with in as standard input and returns the exit
// status and both outputs.
func runMain(in io.Reader, args ...string) (int, string, string) {
	old := stdin
	if in != nil {
		stdin = in
	}
	defer func() { stdin = old }()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// saveImage writes im, sparse, to dir/name and returns the path.
func saveImage(t testing.TB, dir, name string, im *vb.Image) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := im.WriteSparse(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(im.Size()); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileSum returns the SHA-256 of the file at p.
func fileSum(t testing.TB, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// allocated returns the bytes fn allocates on the heap, in total (a bound
// on its peak).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestParentFlagWithoutLocator: the has-parent flag without a parent
// locator item made check panic (a nil dereference); every read command
// now reports it.
func TestParentFlagWithoutLocator(t *testing.T) {
	im := vb.New(vb.Options{HasParent: true})
	im.RemoveMetadataItem(vhdx.ItemParentLocator)
	p := saveImage(t, t.TempDir(), "child.avhdx", im)
	code, out, errs := runMain(nil, "check", p)
	if code != 1 || !strings.Contains(out, "metadata.parent_locator_missing") || !strings.Contains(out, "chain.parent_missing") {
		t.Errorf("check: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runMain(nil, "info", p); code != 0 || !strings.Contains(out, "chain:                   BROKEN") {
		t.Errorf("info: exit %d\n%s%s", code, out, errs)
	}
	for _, cmd := range []string{"map", "cat"} {
		if code, _, errs := runMain(nil, cmd, p); code != 1 || !strings.Contains(errs, "no parent locator") || !strings.Contains(errs, p) {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errs)
		}
	}
}

// TestTerminalEscapesAreShown: control characters in strings from the file
// (creator, parent locator keys and values) are printed escaped by info,
// check, map and in error messages.
func TestTerminalEscapesAreShown(t *testing.T) {
	const evil = hostile.ControlText
	im := vb.New(vb.Options{HasParent: true, Creator: "creator" + evil, ParentLocator: []vb.KeyValue{
		{Key: "parent_linkage", Value: vb.FormatParentLinkage(vb.DefaultParentLinkage)},
		{Key: "relative_path", Value: "parent" + evil + ".vhdx"},
	}})
	p := saveImage(t, t.TempDir(), "child.avhdx", im)
	for _, args := range [][]string{{"info", p}, {"check", p}, {"map", p}, {"cat", p}} {
		_, out, errs := runMain(nil, args...)
		all := out + errs
		if strings.ContainsAny(all, "\x1b\a\u202e") || strings.Contains(all, "\nfake: line") {
			t.Errorf("%s prints control characters raw:\n%q", args[0], all)
		}
		if !strings.Contains(all, `\x1b]0;pwned\x07`) {
			t.Errorf("%s does not show the escaped text:\n%s", args[0], all)
		}
	}
	if got := escape("ok\\path é\x00\u009b\xff"); got != `ok\path é\x00\u009b\xff` {
		t.Errorf("escape = %q", got)
	}
}

// TestNonRegularInputRefused: a FIFO would block a reader forever; it is
// refused at once (a block device would be read).
func TestNonRegularInputRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	for _, cmd := range []string{"info", "check", "map", "cat", "write"} {
		done := make(chan string, 1)
		go func() {
			args := []string{cmd, fifo}
			if cmd == "write" {
				args = append(args, "0")
			}
			code, _, errs := runMain(strings.NewReader(""), args...)
			done <- strings.TrimSpace(errs) + " exit " + string(rune('0'+code))
		}()
		select {
		case got := <-done:
			if !strings.Contains(got, "not a regular file or block device") || !strings.HasSuffix(got, "exit 2") {
				t.Errorf("%s: %s", cmd, got)
			}
		case <-time.After(time.Minute): // a hang guard, not a measurement
			t.Fatalf("%s blocks on a FIFO", cmd)
		}
	}
}

// TestLocks: write takes an exclusive lock and readers a shared one, so a
// second writer, or a writer and a reader, cannot meet on one image (two
// concurrent writes both exited 0 and mixed their data).
func TestLocks(t *testing.T) {
	p := saveImage(t, t.TempDir(), "disk.vhdx", vb.New(vb.Options{}))
	before := fileSum(t, p)
	hold := func(how int) func() {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		return func() { f.Close() }
	}
	release := hold(syscall.LOCK_SH) // a reader
	code, _, errs := runMain(bytes.NewReader(make([]byte, 512)), "write", p, "0")
	if code != 2 || !strings.Contains(errs, "in use by another process") {
		t.Errorf("write beside a reader: exit %d, %q", code, errs)
	}
	if code, _, errs := runMain(nil, "check", p); code != 0 {
		t.Errorf("two readers: exit %d, %q", code, errs)
	}
	release()
	release = hold(syscall.LOCK_EX) // a writer
	code, _, errs = runMain(bytes.NewReader(make([]byte, 512)), "write", p, "0")
	if code != 2 || !strings.Contains(errs, "in use by another process") {
		t.Errorf("write beside a writer: exit %d, %q", code, errs)
	}
	if code, _, errs := runMain(nil, "info", p); code != 2 || !strings.Contains(errs, "being written by another process") {
		t.Errorf("info beside a writer: exit %d, %q", code, errs)
	}
	release()
	if fileSum(t, p) != before {
		t.Errorf("a refused write changed the file")
	}
	if code, _, errs := runMain(bytes.NewReader(make([]byte, 512)), "write", p, "0"); code != 0 {
		t.Errorf("write once the locks are gone: exit %d, %q", code, errs)
	}
}

// TestSizeFlagsOutOfRange: sizes that do not fit their 32-bit fields are
// refused, not cut (--log-size 5G gave 1 GiB).
func TestSizeFlagsOutOfRange(t *testing.T) {
	dir := t.TempDir()
	src := saveImage(t, dir, "src.vhdx", vb.New(vb.Options{}))
	for _, flag := range []string{"--log-size=5G", "--block-size=4G", "--logical-sector=4294967808", "--physical-sector=4294971392"} {
		for _, args := range [][]string{
			{"create", flag, filepath.Join(dir, "new.vhdx"), "1G"},
			{"convert", flag, src, filepath.Join(dir, "out.vhdx")},
			{"merge", flag, src, filepath.Join(dir, "out.vhdx")},
		} {
			code, _, errs := runMain(nil, args...)
			name := strings.SplitN(strings.TrimPrefix(flag, "--"), "=", 2)[0]
			if code != 2 || !strings.Contains(errs, "--"+name) || !strings.Contains(errs, "out of range") {
				t.Errorf("%s %s: exit %d, %q", args[0], flag, code, errs)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left behind: %v", entries)
	}
}

// TestOutputsAreSafe: convert, merge and create never replace an existing
// file without --force, never write onto one of their inputs (by device and
// inode, through the whole chain), leave nothing behind when they fail, and
// a failed convert onto a dangling symlink keeps the symlink; write refuses
// its own image as standard input (it read what it wrote, forever).
func TestOutputsAreSafe(t *testing.T) {
	dir := t.TempDir()
	base := saveImage(t, dir, "base.vhdx", vb.New(vb.Options{}))
	if code, _, errs := runMain(nil, "create", "--parent", base, filepath.Join(dir, "child.avhdx")); code != 0 {
		t.Fatalf("create child: %s", errs)
	}
	child := filepath.Join(dir, "child.avhdx")
	other := filepath.Join(dir, "other.raw")
	if err := os.WriteFile(other, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "dangling.vhdx")
	if err := os.Symlink(filepath.Join(dir, "nowhere", "x.vhdx"), link); err != nil {
		t.Fatal(err)
	}
	hardlink := filepath.Join(dir, "base-again.vhdx")
	if err := os.Link(base, hardlink); err != nil {
		t.Fatal(err)
	}
	sums := map[string][32]byte{base: fileSum(t, base), child: fileSum(t, child), other: fileSum(t, other)}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", base, other}, "exists; not overwriting it (use --force)"},
		{[]string{"merge", child, other}, "exists; not overwriting it (use --force)"},
		{[]string{"create", other, "1G"}, "exists; not overwriting it (use --force)"},
		{[]string{"convert", base, link}, "exists; not overwriting it (use --force)"},
		{[]string{"convert", "--force", base, base}, "is the input"},
		{[]string{"convert", "--force", base, hardlink}, "is the input"},
		{[]string{"merge", "--force", child, base}, "is the input"},
		{[]string{"create", "--force", "--parent", child, base}, "is the input"},
		{[]string{"create", "--force", "--parent", base, base}, "is the input"},
	} {
		code, _, errs := runMain(nil, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, %q; want %q", strings.Join(tc.args, " "), code, errs, tc.want)
		}
	}
	f, err := os.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := runMain(f, "write", base, "0")
	f.Close()
	if code != 2 || !strings.Contains(errs, "standard input is") {
		t.Errorf("write base 0 < base: exit %d, %q", code, errs)
	}
	for p, sum := range sums {
		if fileSum(t, p) != sum {
			t.Errorf("%s changed", p)
		}
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("the dangling symlink is gone: %v", err)
	}
	// A convert that fails half-way (an unreadable block) leaves nothing.
	broken := vb.New(vb.Options{})
	broken.SetBlock(2, vb.PayloadFullyPresent, make([]byte, mib))
	broken.FileSize = int64(broken.Block(2).FileOffset) + 4*kib
	src := saveImage(t, dir, "broken.vhdx", broken)
	if code, _, errs := runMain(nil, "convert", src, filepath.Join(dir, "out.raw")); code != 1 || !strings.Contains(errs, src) {
		t.Errorf("convert of a truncated image: exit %d, %q", code, errs)
	}
	// --force replaces a file that is not an input.
	if code, _, errs := runMain(nil, "convert", "--force", base, other); code != 0 {
		t.Errorf("convert --force: exit %d, %q", code, errs)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "base-again.vhdx base.vhdx broken.vhdx child.avhdx dangling.vhdx other.raw" {
		t.Errorf("folder holds %s", got)
	}
}

// TestWriteRefusesDamagedImages: vhdx write on an image whose BAT points a
// block into the metadata, or whose log writes over the file type
// identifier, exits 2 naming the finding and leaves every byte as it was.
func TestWriteRefusesDamagedImages(t *testing.T) {
	dir := t.TempDir()
	meta := vb.New(vb.Options{})
	meta.BATOverride = map[int]uint64{meta.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, meta.MetadataOffset)}
	logHdr := vb.New(vb.Options{})
	e := vb.NewLogEntry(1)
	e.Writes = []vb.LogWrite{{FileOffset: 0, Data: make([]byte, 4*kib)}}
	logHdr.AddLogEntry(e)
	for name, tc := range map[string]struct {
		im   *vb.Image
		code string
	}{"meta.vhdx": {meta, "bat.overlap_structure"}, "log.vhdx": {logHdr, "log.target_header"}} {
		p := saveImage(t, dir, name, tc.im)
		if _, out, _ := runMain(nil, "check", p); !strings.Contains(out, tc.code) {
			t.Errorf("check %s does not report %s:\n%s", name, tc.code, out)
		}
		before := fileSum(t, p)
		code, _, errs := runMain(bytes.NewReader(bytes.Repeat([]byte{0xAB}, 4*kib)), "write", p, "1M")
		if code != 2 || !strings.Contains(errs, "refusing to write: "+tc.code) || !strings.Contains(errs, p) {
			t.Errorf("write %s: exit %d, %q", name, code, errs)
		}
		if fileSum(t, p) != before {
			t.Errorf("write %s changed the file", name)
		}
	}
}

// TestMessages: errors of map and cat name the file, no message repeats its
// structure prefix, no offset prints negative, info prints what it can
// before failing, and a loop in a chain has its own finding code.
func TestMessages(t *testing.T) {
	dir := t.TempDir()
	// A block whose stored data ends beyond the file.
	im := vb.New(vb.Options{})
	im.SetBlock(2, vb.PayloadFullyPresent, make([]byte, mib))
	im.FileSize = int64(im.Block(2).FileOffset) + 4*kib
	short := saveImage(t, dir, "short.vhdx", im)
	code, _, errs := runMain(nil, "cat", short)
	if code != 1 || !strings.Contains(errs, short) || strings.Count(errs, "at offset") > 1 {
		t.Errorf("cat: exit %d, %q", code, errs)
	}
	// A BAT cut short: info still prints the rest, then fails.
	im = vb.New(vb.Options{VirtualSize: 64 << 30})
	im.FileSize = int64(im.BATOffset) + 4*kib
	cut := saveImage(t, dir, "cut.vhdx", im)
	code, out, errs := runMain(nil, "info", cut)
	if code != 1 || !strings.Contains(out, "Header 1") || !strings.Contains(errs, cut) {
		t.Errorf("info of a cut BAT: exit %d, %d bytes out, %q", code, len(out), errs)
	}
	code, out, errs = runMain(nil, "map", cut)
	if code != 1 || !strings.Contains(errs, cut) || strings.Count(errs, "at offset") > 1 {
		t.Errorf("map of a cut BAT: exit %d, %q", code, errs)
	}
	// A BAT entry whose offset does not fit an int64.
	im = vb.New(vb.Options{})
	im.BATOverride = map[int]uint64{0: 0xFFFFF<<44 | uint64(vb.PayloadFullyPresent)}
	neg := saveImage(t, dir, "neg.vhdx", im)
	// Regions whose offsets do not fit an int64.
	im = vb.New(vb.Options{})
	im.UpdateRegion(vb.BATRegionGUID, 1<<64-mib, mib)
	im.UpdateRegion(vb.MetadataRegionGUID, 1<<63, mib)
	far := saveImage(t, dir, "far.vhdx", im)
	for _, args := range [][]string{{"check", neg}, {"map", neg}, {"cat", neg}, {"info", far}, {"check", far}, {"map", far}} {
		cmd := args[0]
		_, out, errs := runMain(nil, args...)
		if strings.Contains(out+errs, "-0x") || strings.Contains(out+errs, "offset -") {
			t.Errorf("%s prints a negative offset:\n%s%s", cmd, out, errs)
		}
	}
	// A child that names itself as its parent.
	self := vb.New(vb.Options{HasParent: true, ParentLocator: []vb.KeyValue{
		{Key: "parent_linkage", Value: vb.FormatParentLinkage(vb.DefaultDataWriteGUID)},
		{Key: "relative_path", Value: "other.avhdx"},
	}})
	saveImage(t, dir, "self.avhdx", self)
	saveImage(t, dir, "other.avhdx", self)
	_, out, _ = runMain(nil, "check", filepath.Join(dir, "self.avhdx"))
	if !strings.Contains(out, "chain.loop") || strings.Contains(out, "chain.parent_mismatch") {
		t.Errorf("check of a loop:\n%s", out)
	}
}
