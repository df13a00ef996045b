package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// session holds the files a command opened, to close them together.
type session struct {
	files []*os.File
}

func (s *session) close() {
	for _, f := range s.files {
		f.Close()
	}
}

// openFile opens name for reading (a regular file or a block device, with
// a shared lock) and returns it with its size.
func (s *session) openFile(name string) (*os.File, int64, error) {
	f, size, err := openLocked(name, false)
	if err != nil {
		return nil, 0, err
	}
	s.files = append(s.files, f)
	return f, size, nil
}

// openImage opens name as a VHDX image. A file that cannot be read as a
// VHDX at all yields exit status 2.
func (s *session) openImage(name string) (*vhdx.Image, error) {
	f, size, err := s.openFile(name)
	if err != nil {
		return nil, &exitError{2, err}
	}
	img, err := vhdx.Open(f, size)
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("%s: %w", name, err)}
	}
	return img, nil
}

// openDisk opens the virtual disk of img (named name), through its parent
// chain when it is a differencing disk.
func (s *session) openDisk(img *vhdx.Image, name string) (*vhdx.Disk, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	return vhdx.OpenChain(img, abs, s.resolve)
}

// openImageDisk opens name and its virtual disk (through its chain).
func (s *session) openImageDisk(name string) (*vhdx.Image, *vhdx.Disk, error) {
	img, err := s.openImage(name)
	if err != nil {
		return nil, nil, err
	}
	disk, err := s.openDisk(img, name)
	return img, disk, err
}

// resolve finds a parent on disk: the locator's relative path from the
// child's folder, then its absolute path, then a file of the same name in
// the child's folder.
func (s *session) resolve(child string, loc *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
	dir := filepath.Dir(child)
	var tried []string
	try := func(p string) (io.ReaderAt, int64, string, bool) {
		p = filepath.Clean(p)
		for _, t := range tried {
			if t == p {
				return nil, 0, "", false
			}
		}
		tried = append(tried, p)
		f, size, err := s.openFile(p)
		if err != nil {
			return nil, 0, "", false
		}
		return f, size, p, true
	}
	var bases []string
	for _, key := range []string{"relative_path", "absolute_win32_path"} {
		v, ok := loc.Get(key)
		if !ok || v == "" {
			continue
		}
		p := strings.ReplaceAll(v, `\`, "/")
		bases = append(bases, path.Base(p))
		if key == "relative_path" {
			p = filepath.Join(dir, p)
		} else if len(p) > 2 && p[1] == ':' {
			p = p[2:] // a drive letter means nothing here; try the rest as a path
		}
		if r, size, name, ok := try(p); ok {
			return r, size, name, nil
		}
	}
	for _, b := range bases {
		if r, size, name, ok := try(filepath.Join(dir, b)); ok {
			return r, size, name, nil
		}
	}
	if len(tried) == 0 {
		return nil, 0, "", errors.New("the parent locator has no relative_path or absolute_win32_path")
	}
	return nil, 0, "", fmt.Errorf("no parent file at %s", strings.Join(tried, ", "))
}
