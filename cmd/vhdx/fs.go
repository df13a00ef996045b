package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/browse"
	"github.com/vhdx-inspector/vhdx-inspector/partition"
)

// volume is a browsable filesystem of a partition.
type volume struct {
	part int    // the partition number as `parts` prints it (0: the whole disk)
	typ  string // the filesystem type as filesystem.Probe names it
	fsys filesystem.FS
}

// errNoFilesystem: no partition of the disk holds a filesystem that can be
// browsed, or the one named holds none.
var errNoFilesystem = errors.New("no filesystem that can be browsed")

// volumes opens image name and returns the browsable filesystems of its
// partitions: only partition part when part >= 0.
func (s *session) volumes(name string, part int) ([]volume, error) {
	img, disk, err := s.openImageDisk(name)
	if err != nil {
		return nil, err
	}
	sector, _, _ := geometry(img)
	table, err := partition.Read(disk, disk.Size(), sector)
	if err != nil {
		return nil, err
	}
	var vols []volume
	found := false
	for _, p := range table.Partitions {
		if p.Extended || (part >= 0 && p.Number != part) {
			continue
		}
		found = true
		r := table.Section(disk, p)
		typ := ""
		if info, err := filesystem.Probe(r, r.Size()); err == nil && info != nil {
			typ = info.Type
		}
		if !browsable(typ) {
			if part >= 0 {
				return nil, fmt.Errorf("partition %d holds %q: %w", part, typ, errNoFilesystem)
			}
			continue
		}
		fsys, err := browse.Open(r, r.Size(), typ)
		if err != nil {
			if part >= 0 {
				return nil, fmt.Errorf("partition %d: %w", part, err)
			}
			continue
		}
		vols = append(vols, volume{p.Number, typ, fsys})
	}
	switch {
	case part >= 0 && !found:
		return nil, fmt.Errorf("%s has no partition %d (see 'vhdx parts')", name, part)
	case len(vols) == 0:
		return nil, fmt.Errorf("%s: %w", name, errNoFilesystem)
	}
	return vols, nil
}

// browsable reports whether a probed type can be browsed.
func browsable(typ string) bool {
	for _, t := range browse.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// partArg parses a PART argument: a partition number.
func partArg(a string) (int, bool) {
	n, err := strconv.Atoi(a)
	return n, err == nil && n >= 0
}

// needPart parses a PART argument that must be a partition number: any
// other is a usage error.
func needPart(a string) (int, error) {
	n, ok := partArg(a)
	if !ok {
		return 0, &exitError{2, fmt.Errorf("PART %q is not a partition number", a)}
	}
	return n, nil
}

// walkFailures collects the errors met while walking filesystems for
// command cmd: each is reported on standard error and the walk goes on;
// the command then exits with status 1.
type walkFailures struct {
	cmd    string
	failed bool
}

// report is filesystem.Walk's error callback.
func (f *walkFailures) report(_ string, err error) error {
	fmt.Fprintf(os.Stderr, "vhdx %s: %s\n", f.cmd, escape(err.Error()))
	f.failed = true
	return nil
}

// status is the command's result once its walks are done.
func (f *walkFailures) status() error {
	if f.failed {
		return &exitError{1, nil}
	}
	return nil
}
