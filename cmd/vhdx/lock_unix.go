//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openNonBlock keeps opening a FIFO from blocking until a writer appears.
const openNonBlock = syscall.O_NONBLOCK

// lockFile takes an advisory lock on f: exclusive for writing, shared for
// reading. It fails at once when another process holds a conflicting one.
func lockFile(f *os.File, name string, write bool) error {
	how := syscall.LOCK_SH
	if write {
		how = syscall.LOCK_EX
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK) && write:
		return fmt.Errorf("%s is in use by another process (locked); not writing", name)
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("%s is being written by another process (locked)", name)
	case errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EINVAL):
		return nil // the file system has no locks: go on without
	}
	return err
}
