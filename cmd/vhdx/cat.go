package main

import (
	"bufio"
	"flag"
	"io"
)

func defineCat(*flag.FlagSet) runner { return runCat }

func runCat(stdout io.Writer, args []string) error {
	s := &session{}
	defer s.close()
	_, disk, err := s.openImageDisk(args[0])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 0)
	if _, err := disk.WriteTo(w); err != nil {
		return err
	}
	return w.Flush()
}
