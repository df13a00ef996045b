package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

type jsonExtent struct {
	Start      int64  `json:"start"`
	Length     int64  `json:"length"`
	State      string `json:"state"`
	FileOffset *int64 `json:"file_offset,omitempty"`
	Layer      int    `json:"layer"`
}

func defineMap(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error {
		return runMap(s, stdout, *asJSON, args)
	}
}

func runMap(s *session, stdout io.Writer, asJSON bool, args []string) error {
	defer s.close()
	_, disk, err := s.openImageDisk(args[0])
	if err != nil {
		return err
	}
	var names []string
	for _, l := range disk.Layers() {
		names = append(names, l.Name)
	}
	if asJSON {
		b, _ := json.Marshal(names)
		fmt.Fprintf(stdout, "{\"layers\":%s,\"extents\":[", b)
	} else {
		if len(names) > 1 {
			for i, n := range names {
				fmt.Fprintf(stdout, "layer %d: %s\n", i, escape(n))
			}
		}
		fmt.Fprintf(stdout, "%-18s %-18s %-18s %-5s %s\n", "start", "length", "file offset", "layer", "state")
	}
	first := true
	err = disk.Extents(func(e vdisk.Extent) error {
		if !asJSON {
			off := "-"
			if e.Stored {
				off = fmt.Sprintf("%#x", e.FileOffset)
			}
			_, err := fmt.Fprintf(stdout, "%-18s %-18s %-18s %-5d %s\n", fmt.Sprintf("%#x", e.Start), fmt.Sprintf("%#x", e.Length), off, e.Layer, e.State)
			return err
		}
		je := jsonExtent{Start: e.Start, Length: e.Length, State: e.State, Layer: e.Layer}
		if e.Stored {
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
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}
