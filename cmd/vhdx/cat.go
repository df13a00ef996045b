package main

import (
	"bufio"
	"flag"
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
	if _, err := disk.WriteTo(w); err != nil {
		return err
	}
	return w.Flush()
}
