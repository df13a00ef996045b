package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"

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
		n, err := needPart(args[1])
		if err != nil {
			return err
		}
		part = n
	}
	vols, err := s.volumes(args[0], part)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	failures := &walkFailures{cmd: "bodyfile"}
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
		}, failures.report)
		if err != nil {
			return err
		}
	}
	return failures.status()
}
