package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// createFlags declares the geometry flags shared by create, convert and merge.
type createFlags struct {
	fixed, force       bool
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
	fs.BoolVar(&c.force, "force", false, "replace the output file if it exists")
	if withParent {
		fs.StringVar(&c.parent, "parent", "", "make a differencing disk of this parent image")
	}
}

// options returns the flags as create options; a value too large for its
// field is an error, never cut to 32 bits.
func (c *createFlags) options(virtualSize uint64) (vhdx.CreateOptions, error) {
	for _, f := range []struct {
		name string
		v    uint64
	}{{"block-size", uint64(c.blockSize)}, {"log-size", uint64(c.logSize)}, {"logical-sector", uint64(c.logical)}, {"physical-sector", uint64(c.physical)}} {
		if f.v > math.MaxUint32 {
			return vhdx.CreateOptions{}, &exitError{2, fmt.Errorf("--%s %d is out of range (at most %d)", f.name, f.v, uint64(math.MaxUint32))}
		}
	}
	return vhdx.CreateOptions{VirtualSize: virtualSize, BlockSize: uint32(c.blockSize), LogicalSectorSize: uint32(c.logical),
		PhysicalSectorSize: uint32(c.physical), Fixed: c.fixed, LogSize: uint32(c.logSize)}, nil
}

func defineCreate(fs *flag.FlagSet) runner {
	c := &createFlags{}
	c.declare(fs, true)
	return func(_ io.Writer, args []string) error { return runCreate(c, args) }
}

func runCreate(c *createFlags, args []string) error {
	name := args[0]
	opt, err := c.options(0)
	if err != nil {
		return err
	}
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
		s.openVHDXChain(parent, c.parent) // opens the parent's own chain, which the output must not replace
		opt.Parent, err = parentInfo(parent, c.parent, name)
		if err != nil {
			return err
		}
	}
	out, err := createOutput(name, c.force, s.files)
	if err != nil {
		return err
	}
	return out.finish(vhdx.Create(out.tmp, opt))
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
