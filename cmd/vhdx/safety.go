package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// openLocked opens name, which must be a regular file or a block device
// (anything else, such as a FIFO, could block a read forever), and locks
// it: shared for reading, exclusive for writing, failing at once when
// another process holds a conflicting lock. It returns the file and its
// size.
func openLocked(name string, write bool) (*os.File, int64, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(name, flag|openNonBlock, 0)
	if err != nil {
		return nil, 0, err
	}
	size, err := inputSize(f, name)
	if err == nil {
		err = lockFile(f, name, write)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// inputSize returns the size of a regular file or block device, and an
// error for anything else.
func inputSize(f *os.File, name string) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	m := st.Mode()
	switch {
	case m.IsRegular():
		return st.Size(), nil
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0:
		return f.Seek(0, io.SeekEnd)
	}
	return 0, fmt.Errorf("%s: not a regular file or block device (%s)", name, m.Type())
}

// sameAsAny reports the first of files that is the file st describes (the
// same device and inode).
func sameAsAny(st os.FileInfo, files []*os.File) (*os.File, bool) {
	for _, f := range files {
		if fs, err := f.Stat(); err == nil && os.SameFile(st, fs) {
			return f, true
		}
	}
	return nil, false
}

// output is a file a command creates. It is written under a temporary name
// in the same folder and takes its name only when complete, so a failure
// leaves nothing half-written and removes only what the command made; an
// existing file is replaced only with --force, and never when it is one of
// the command's inputs.
type output struct {
	name  string
	force bool
	tmp   *os.File
}

// createOutput checks name against the inputs and opens its temporary file.
func createOutput(name string, force bool, inputs []*os.File) (*output, error) {
	if st, err := os.Stat(name); err == nil {
		if in, same := sameAsAny(st, inputs); same {
			return nil, &exitError{2, fmt.Errorf("%s is the input %s; not writing onto it", name, in.Name())}
		}
	}
	if _, err := os.Lstat(name); err == nil && !force {
		return nil, &exitError{2, fmt.Errorf("%s exists; not overwriting it (use --force)", name)}
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return &output{name: name, force: force, tmp: tmp}, nil
}

// finish closes the temporary file and, when err is nil, gives it its name;
// otherwise, or when that fails, it removes the temporary file. It returns
// err or the first error met.
func (o *output) finish(err error) error {
	if cerr := o.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if o.force {
			err = os.Rename(o.tmp.Name(), o.name)
		} else if err = os.Link(o.tmp.Name(), o.name); errors.Is(err, os.ErrExist) {
			err = &exitError{2, fmt.Errorf("%s appeared meanwhile; not overwriting it (use --force)", o.name)}
		}
	}
	os.Remove(o.tmp.Name()) // after a rename, nothing is left to remove
	return err
}
