package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// jsonEntry is one line of `ls --json`.
type jsonEntry struct {
	Partition  int                  `json:"partition"`
	Path       string               `json:"path"`
	Name       string               `json:"name"`
	Type       filesystem.EntryType `json:"type"`
	Size       int64                `json:"size"`
	Mtime      *string              `json:"mtime"`
	Atime      *string              `json:"atime"`
	Ctime      *string              `json:"ctime"`
	Btime      *string              `json:"btime"`
	Deleted    bool                 `json:"deleted"`
	ID         string               `json:"id"`
	Mode       string               `json:"mode"`
	Attributes uint32               `json:"attributes"`
	UID        *uint32              `json:"uid"`
	GID        *uint32              `json:"gid"`
	Streams    []filesystem.Stream  `json:"streams,omitempty"`
	Target     string               `json:"target,omitempty"`
}

func rfc3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func toJSON(part int, e filesystem.Entry) jsonEntry {
	j := jsonEntry{
		Partition: part, Path: e.Path, Name: e.Name, Type: e.Type, Size: e.Size,
		Mtime: rfc3339(e.Modified), Atime: rfc3339(e.Accessed), Ctime: rfc3339(e.Changed), Btime: rfc3339(e.Born),
		Deleted: e.Deleted, ID: e.ID, Mode: filesystem.ModeString(e)[2:], Attributes: e.Attributes, Streams: e.Streams, Target: e.Target,
	}
	if e.HasOwner {
		j.UID, j.GID = &e.UID, &e.GID
	}
	return j
}

func defineLs(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	recursive := fs.Bool("r", false, "list the directory's whole tree")
	deleted := fs.Bool("deleted", false, "include deleted entries the filesystem still holds")
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error {
		return runLs(s, stdout, lsOptions{*asJSON, *recursive, *deleted}, args)
	}
}

type lsOptions struct{ json, recursive, deleted bool }

func runLs(s *session, stdout io.Writer, o lsOptions, args []string) error {
	defer s.close()
	part, dir := -1, "/"
	switch rest := args[1:]; len(rest) {
	case 1:
		if n, ok := partArg(rest[0]); ok {
			part = n
		} else {
			dir = rest[0]
		}
	case 2:
		n, err := needPart(rest[0])
		if err != nil {
			return err
		}
		part, dir = n, rest[1]
	}
	vols, err := s.volumes(args[0], part)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	failures := &walkFailures{cmd: "ls"}
	for _, v := range vols {
		if !o.json && len(vols) > 1 {
			fmt.Fprintf(w, "partition %d (%s):\n", v.part, escape(v.typ))
		}
		emit := func(e filesystem.Entry) error {
			if e.Deleted && !o.deleted {
				if e.IsDir() {
					return filesystem.SkipDir
				}
				return nil
			}
			if o.json {
				b, err := json.Marshal(toJSON(v.part, e))
				if err != nil {
					return err
				}
				w.Write(b)
				return w.WriteByte('\n')
			}
			return lsLine(w, e)
		}
		top, err := v.fsys.Stat(dir)
		if err != nil {
			return err
		}
		switch {
		case !top.IsDir():
			err = emit(top)
		case o.recursive:
			err = filesystem.Walk(context.Background(), v.fsys, dir, emit, failures.report)
		default:
			var entries []filesystem.Entry
			if entries, err = v.fsys.ReadDir(dir); err == nil {
				filesystem.SortByName(entries)
				for _, e := range entries {
					if err = emit(e); err == filesystem.SkipDir {
						err = nil
					}
					if err != nil {
						break
					}
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return failures.status()
}

// lsLine prints an entry for people: mode, size, modification time (UTC),
// ID, path, with "(deleted)" and a link's target; then one line per NTFS
// stream. It appends rather than formats: listings run to millions of
// lines.
func lsLine(w io.Writer, e filesystem.Entry) error {
	mode := filesystem.ModeString(e)[2:]
	mtime := "-"
	if e.Modified != nil {
		mtime = e.Modified.UTC().Format(time.DateTime)
	}
	line := func(b []byte, size int64, name string) []byte {
		b = append(b, mode...)
		b = appendPadded(b, strconv.FormatInt(size, 10), 13)
		b = append(b, ' ')
		b = append(b, mtime...)
		b = appendPadded(b, escape(e.ID), 11)
		b = append(b, ' ')
		b = append(b, name...)
		return append(b, '\n')
	}
	name := e.Path
	if e.Type == filesystem.TypeSymlink && e.Target != "" {
		name += " -> " + e.Target
	}
	if e.Deleted {
		name += " (deleted)"
	}
	b := line(make([]byte, 0, 128), e.Size, escape(name))
	for _, st := range e.Streams {
		b = line(b, st.Size, escape(e.Path)+":"+escape(st.Name))
	}
	_, err := w.Write(b)
	return err
}

// appendPadded appends s right-aligned in a field of width characters
// after a space.
func appendPadded(b []byte, s string, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}
