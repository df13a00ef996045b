package main

import (
	"encoding/json"
	"errors"
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
	var ce *vdisk.ChainError
	missing := ""
	if errors.As(err, &ce) && ce.Partial != nil {
		// The image's own blocks still map; what needs the missing
		// parent is marked, as the last layer.
		disk, missing = ce.Partial, ce.Ref.Name
		if missing == "" {
			missing = "(named by no locator)"
		}
	} else if err != nil {
		return err
	}
	var names []string
	for _, l := range disk.Layers() {
		names = append(names, l.Name)
	}
	if missing != "" {
		names = append(names, missing+" (missing)")
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
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", args[0], err)
	case missing != "":
		// The map is complete: exit 0, and say on standard error what is missing.
		return &exitError{0, fmt.Errorf("%s: its parent %s was not found: the ranges that need it are marked %s (layer %d)", args[0], missing, vdisk.StateNeedsParent, len(names)-1)}
	}
	return nil
}
