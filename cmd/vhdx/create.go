package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// createFlags declares the geometry flags shared by create, convert and merge.
type createFlags struct {
	fixed              bool
	blockSize, logSize sizeFlag
	logical, physical  uint
	parent             string
}

func (c *createFlags) declare(fs *flag.FlagSet, withParent bool) {
	fs.BoolVar(&c.fixed, "fixed", false, "allocate every block now (a fixed disk)")
	fs.Var(&c.blockSize, "block-size", "block size, 1M to 256M, a power of two (default 32M, or the parent's or source's)")
	fs.UintVar(&c.logical, "logical-sector", 0, "logical sector size, 512 or 4096 (default 512, or the parent's or source's)")
	fs.UintVar(&c.physical, "physical-sector", 0, "physical sector size, 512 or 4096 (default 4096)")
	fs.Var(&c.logSize, "log-size", "log size, a multiple of 1M (default 1M)")
	if withParent {
		fs.StringVar(&c.parent, "parent", "", "make a differencing disk of this parent image")
	}
}

func (c *createFlags) options(virtualSize uint64) vhdx.CreateOptions {
	return vhdx.CreateOptions{VirtualSize: virtualSize, BlockSize: uint32(c.blockSize), LogicalSectorSize: uint32(c.logical),
		PhysicalSectorSize: uint32(c.physical), Fixed: c.fixed, LogSize: uint32(c.logSize)}
}

func defineCreate(fs *flag.FlagSet) runner {
	c := &createFlags{}
	c.declare(fs, true)
	return func(_ io.Writer, args []string) error { return runCreate(c, args) }
}

func runCreate(c *createFlags, args []string) error {
	name := args[0]
	opt := c.options(0)
	s := &session{}
	defer s.close()
	switch {
	case len(args) == 2:
		n, err := parseSize(args[1])
		if err != nil {
			return &exitError{2, err}
		}
		opt.VirtualSize = n
	case c.parent == "":
		return &exitError{2, fmt.Errorf("VIRTUAL_SIZE is needed unless --parent is given")}
	}
	if c.parent != "" {
		parent, err := s.openVHDX(c.parent)
		if err != nil {
			return err
		}
		opt.Parent, err = parentInfo(parent, c.parent, name)
		if err != nil {
			return err
		}
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := vhdx.Create(f, opt); err != nil {
		os.Remove(name)
		return err
	}
	return f.Close()
}

// parentInfo describes parent (at parentPath) for a child created at
// childPath: the locator gets the relative path from the child's folder
// and the absolute path, both with Windows separators as Hyper-V expects.
func parentInfo(parent *vhdx.Image, parentPath, childPath string) (*vhdx.ParentInfo, error) {
	absParent, err := filepath.Abs(parentPath)
	if err != nil {
		return nil, err
	}
	absChild, err := filepath.Abs(childPath)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(filepath.Dir(absChild), absParent)
	if err != nil {
		return nil, err
	}
	win := func(p string) string { return strings.ReplaceAll(p, "/", `\`) }
	return &vhdx.ParentInfo{Image: parent, RelativePath: win(rel), AbsoluteWin32Path: win(absParent)}, nil
}
