package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

type jsonExtent struct {
	Start      int64  `json:"start"`
	Length     int64  `json:"length"`
	State      string `json:"state"`
	FileOffset *int64 `json:"file_offset,omitempty"`
}

func runMap(stdout io.Writer, fs *flag.FlagSet, args []string) error {
	img, closeFile, err := openImage(args[0])
	if err != nil {
		return err
	}
	defer closeFile()
	disk, err := img.Disk()
	if err != nil {
		return err
	}
	asJSON := jsonWanted(fs)
	if asJSON {
		fmt.Fprint(stdout, "{\"extents\":[")
	} else {
		fmt.Fprintf(stdout, "%-18s %-18s %-18s %s\n", "start", "length", "file offset", "state")
	}
	first := true
	err = disk.Extents(func(e vhdx.Extent) error {
		if !asJSON {
			off := "-"
			if e.State == vhdx.FullyPresent {
				off = fmt.Sprintf("%#x", e.FileOffset)
			}
			_, err := fmt.Fprintf(stdout, "%-18s %-18s %-18s %s\n", fmt.Sprintf("%#x", e.Start), fmt.Sprintf("%#x", e.Length), off, e.State)
			return err
		}
		je := jsonExtent{Start: e.Start, Length: e.Length, State: e.State.String()}
		if e.State == vhdx.FullyPresent {
			je.FileOffset = &e.FileOffset
		}
		b, _ := json.Marshal(je)
		if !first {
			fmt.Fprint(stdout, ",")
		}
		first = false
		_, err := stdout.Write(b)
		return err
	})
	if asJSON {
		fmt.Fprintln(stdout, "]}")
	}
	return err
}
