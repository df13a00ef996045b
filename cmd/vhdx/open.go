package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"

	"os"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// session holds the files a command opened, to close them together, and
// how the command opens images.
type session struct {
	files []*os.File
	// format forces the format of the image named on the command line
	// ("" identifies it).
	format vdisk.Format
	// snapshot names the internal snapshot to read ("" for the current disk).
	snapshot string
}

// flags declares the flags that choose how the image is opened.
func (s *session) flags(fs *flag.FlagSet) {
	fs.Func("format", "open FILE as `FORMAT` (vhdx, qcow2 or raw) instead of telling it by its bytes", func(v string) error {
		switch f := vdisk.Format(strings.ToLower(v)); f {
		case vdisk.VHDX, vdisk.QCOW2, vdisk.Raw:
			s.format = f
			return nil
		}
		return fmt.Errorf("unknown format %q (vhdx, qcow2 or raw)", v)
	})
	fs.StringVar(&s.snapshot, "snapshot", "", "read the internal snapshot with this `ID or name` (qcow2) instead of the current disk")
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

// openImage opens name as an image of any format. A file that cannot be
// read as an image at all yields exit status 2.
func (s *session) openImage(name string) (*vdisk.Image, error) {
	f, size, err := s.openFile(name)
	if err != nil {
		return nil, &exitError{2, err}
	}
	img, err := vdisk.Open(f, size, name, vdisk.Options{Format: s.format})
	if err != nil {
		return nil, &exitError{2, err}
	}
	return img, nil
}

// openVHDX opens name as a VHDX image (a parent for create, an image for
// write).
func (s *session) openVHDX(name string) (*vhdx.Image, error) {
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

// openDisk opens the virtual disk of img through the files it refers to.
func (s *session) openDisk(img *vdisk.Image) (*vdisk.Disk, error) {
	return img.OpenDisk(s.resolve, s.snapshot)
}

// openImageDisk opens name and its virtual disk (through its chain).
func (s *session) openImageDisk(name string) (*vdisk.Image, *vdisk.Disk, error) {
	img, err := s.openImage(name)
	if err != nil {
		return nil, nil, err
	}
	disk, err := s.openDisk(img)
	return img, disk, err
}

// openVHDXChain opens the virtual disk of the VHDX img, named name, through
// its parents.
func (s *session) openVHDXChain(img *vhdx.Image, name string) (*vhdx.Disk, error) {
	return vhdx.OpenChain(img, name, func(child string, loc *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
		paths := loc.Paths()
		ref := vdisk.Reference{Role: vdisk.RoleParent, Paths: paths, Format: vdisk.VHDX}
		if len(paths) > 0 {
			ref.Name = path.Base(paths[0])
		}
		return s.resolve(child, ref)
	})
}

// resolve finds a file an image refers to: at each path the image gives
// (relative ones from the image's folder; a Windows drive letter is
// dropped), then a file of the same name in the image's folder.
func (s *session) resolve(from string, ref vdisk.Reference) (io.ReaderAt, int64, string, error) {
	dir := filepath.Dir(from)
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
	for _, p := range ref.Paths {
		p = strings.ReplaceAll(p, `\`, "/")
		bases = append(bases, path.Base(p))
		switch {
		case len(p) > 2 && p[1] == ':':
			p = p[2:] // a drive letter means nothing here; try the rest as a path
		case !filepath.IsAbs(p):
			p = filepath.Join(dir, p)
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
		return nil, 0, "", errors.New("the image gives no path for it")
	}
	return nil, 0, "", fmt.Errorf("no file at %s", strings.Join(tried, ", "))
}
