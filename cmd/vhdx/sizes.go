package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads a byte count with an optional binary suffix: K, M, G or T
// (also KiB, KB, ...; all powers of 1024), e.g. "32M", "10G", "512".
func parseSize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift > 0 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 0, 64)
	if err != nil || (shift > 0 && n > (1<<(64-shift))-1) {
		return 0, fmt.Errorf("%q is not a size (a number with an optional K, M, G or T suffix)", s)
	}
	return n << shift, nil
}

// sizeFlag is a flag.Value holding a size.
type sizeFlag uint64

func (f *sizeFlag) String() string { return strconv.FormatUint(uint64(*f), 10) }

func (f *sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	*f = sizeFlag(n)
	return err
}
