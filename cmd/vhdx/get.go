package main

import (
	"bufio"
	"flag"
	"io"
)

func defineGet(fs *flag.FlagSet) runner {
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error { return runGet(s, stdout, args) }
}

func runGet(s *session, stdout io.Writer, args []string) error {
	defer s.close()
	part, err := needPart(args[1])
	if err != nil {
		return err
	}
	vols, err := s.volumes(args[0], part)
	if err != nil {
		return err
	}
	f, err := vols[0].fsys.Open(args[2])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<20)
	if _, err := io.Copy(w, io.NewSectionReader(f, 0, f.Size())); err != nil {
		return err
	}
	return w.Flush()
}
