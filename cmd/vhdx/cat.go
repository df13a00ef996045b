package main

import (
	"bufio"
	"flag"
	"io"
)

func runCat(stdout io.Writer, _ *flag.FlagSet, args []string) error {
	img, closeFile, err := openImage(args[0])
	if err != nil {
		return err
	}
	defer closeFile()
	disk, err := img.Disk()
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 0)
	if _, err := disk.WriteTo(w); err != nil {
		return err
	}
	return w.Flush()
}
