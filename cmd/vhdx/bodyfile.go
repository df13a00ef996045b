package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

func defineBodyfile(fs *flag.FlagSet) runner {
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error { return runBodyfile(s, stdout, args) }
}

// runBodyfile writes a body file for mactime: one line per entry, deleted
// ones included, and one per NTFS alternate data stream ("path:stream"),
// as fls -m does. Without PART every browsable filesystem is listed; when
// there are several, each name starts with "partN".
func runBodyfile(s *session, stdout io.Writer, args []string) error {
	defer s.close()
	part := -1
	if len(args) > 1 {
		n, ok := partArg(args[1])
		if !ok {
			return &exitError{2, fmt.Errorf("PART %q is not a partition number", args[1])}
		}
		part = n
	}
	vols, err := s.volumes(args[0], part)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	failed := false
	for _, v := range vols {
		prefix := ""
		if len(vols) > 1 {
			prefix = fmt.Sprintf("part%d", v.part)
		}
		err := filesystem.Walk(context.Background(), v.fsys, "/", func(e filesystem.Entry) error {
			w.WriteString(filesystem.BodyLine(prefix, e))
			w.WriteByte('\n')
			for _, st := range e.Streams {
				se := e
				se.Path, se.Size, se.Streams = e.Path+":"+st.Name, st.Size, nil
				w.WriteString(filesystem.BodyLine(prefix, se))
				if err := w.WriteByte('\n'); err != nil {
					return err
				}
			}
			return nil
		}, func(p string, err error) error {
			fmt.Fprintf(os.Stderr, "vhdx bodyfile: %s\n", escape(err.Error()))
			failed = true
			return nil
		})
		if err != nil {
			return err
		}
	}
	if failed {
		return &exitError{1, nil}
	}
	return nil
}
