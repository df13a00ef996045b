package disktest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Output runs a command and returns its standard output, failing the test
// with both outputs on error (standard error is kept apart so that tools'
// warnings do not mix with the data they print).
func Output(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	return Cmd(t, exec.Command(name, args...))
}

// OutputInput is Output with stdin as the command's standard input.
func OutputInput(t testing.TB, stdin, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return Cmd(t, cmd)
}

// Cmd runs a prepared command (for callers that set its environment or a
// deadline) and returns its standard output, failing the test with both
// outputs on error.
func Cmd(t testing.TB, cmd *exec.Cmd) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, clip(out), clip(stderr.Bytes()))
	}
	return out
}

// clip shortens a command's output for a failure message.
func clip(b []byte) []byte {
	const most = 4000
	if len(b) > most {
		return append(b[:most:most], "…\n"...)
	}
	return b
}

// Diff names the first byte where got and want differ, or their lengths
// when one is a prefix of the other; it is "" when they are equal.
func Diff(got, want []byte) string {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d (%#x): got %#02x, want %#02x", i, i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
	}
	return ""
}

// SameBytes fails the test, naming what, when got and want differ.
func SameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if d := Diff(got, want); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}
