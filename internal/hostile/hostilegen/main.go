// Command hostilegen writes the crafted worst-case images of package
// hostile into a folder, for the browser tests (e2e/hostile.test.mjs):
//
//	go run ./internal/hostile/hostilegen DIR
//
// VHDX images keep their names (*.vhdx, *.avhdx); qcow2 ones are written as
// NAME.qcow2. Files are sparse: the largest claims 1 GiB and holds a few MiB.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vhdx-inspector/vhdx-inspector/internal/hostile"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hostilegen DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "hostilegen:", err)
		os.Exit(1)
	}
}

// write writes every crafted image into dir, which it creates.
func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, h := range hostile.VHDXImages() {
		if err := h.WriteFile(filepath.Join(dir, h.Name)); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	for name, b := range hostile.QCOW2Images() {
		if err := os.WriteFile(filepath.Join(dir, name+".qcow2"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
