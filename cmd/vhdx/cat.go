package main

import (
	"bufio"
	"flag"
	"fmt"
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
	_, err = disk.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}
