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
	img, err := s.openImage(args[0])
	if err != nil {
		return err
	}
	disk, err := s.openDisk(img, args[0])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 0)
	if _, err := disk.WriteTo(w); err != nil {
		return err
	}
	return w.Flush()
}
