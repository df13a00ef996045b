package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
)

func defineCat(fs *flag.FlagSet) runner {
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error { return runCat(s, stdout, args) }
}

func runCat(s *session, stdout io.Writer, args []string) error {
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
