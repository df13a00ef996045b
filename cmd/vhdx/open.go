package main

import (
	"fmt"
	"os"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// openImage opens path as a VHDX image. The returned close function closes
// the file. A file that cannot be read as a VHDX at all yields exit status 2.
func openImage(path string) (*vhdx.Image, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &exitError{2, err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, &exitError{2, err}
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &exitError{2, fmt.Errorf("%s: not a regular file", path)}
	}
	img, err := vhdx.Open(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, &exitError{2, fmt.Errorf("%s: %w", path, err)}
	}
	return img, func() { f.Close() }, nil
}
