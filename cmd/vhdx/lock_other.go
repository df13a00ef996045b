//go:build !unix

package main

import "os"

// openNonBlock is not needed where there are no FIFOs to block on.
const openNonBlock = 0

// lockFile does nothing where advisory locks are not available.
func lockFile(*os.File, string, bool) error { return nil }
