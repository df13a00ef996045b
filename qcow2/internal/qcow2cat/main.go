// Command qcow2cat writes the virtual disk of a qcow2 image to standard
// output, finding backing files and data files relative to the image's
// folder; with -info it prints the number of structure fields instead. It
// stands in for the CLI in build/bench-qcow2.sh.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
)

func main() {
	info := flag.Bool("info", false, "print the number of fields instead of the disk")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: qcow2cat [-info] IMAGE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *info); err != nil {
		fmt.Fprintln(os.Stderr, "qcow2cat:", err)
		os.Exit(1)
	}
}

func run(path string, info bool) error {
	img, err := openFile(path)
	if err != nil {
		return err
	}
	if info {
		_, err := fmt.Println(len(img.Fields()), "fields")
		return err
	}
	resolve := func(from string, ref qcow2.Reference) (io.ReaderAt, int64, string, error) {
		p := ref.Name
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(from), p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, 0, "", errors.Join(qcow2.ErrBackingNotFound, err)
		}
		st, err := f.Stat()
		if err != nil {
			return nil, 0, "", err
		}
		return f, st.Size(), filepath.Clean(p), nil
	}
	d, err := qcow2.OpenChain(img, path, resolve)
	if err != nil {
		return err
	}
	_, err = d.WriteTo(os.Stdout)
	return err
}

func openFile(path string) (*qcow2.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return qcow2.Open(f, st.Size())
}
