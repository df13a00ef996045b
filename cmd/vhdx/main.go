// Command vhdx inspects, creates and converts virtual disk images: Hyper-V
// VHDX first, qcow2 and raw images beside it.
//
//	vhdx info    [--json] FILE          structures and facts (VHDX, qcow2 or raw)
//	vhdx check   [--json] FILE          validation findings (exit 1 on errors, 2 if unreadable)
//	vhdx map     [--json] FILE          virtual disk extents by state and layer
//	vhdx parts   [--json] FILE          partitions and their filesystems
//	vhdx cat     FILE                   the virtual disk, raw, to standard output
//	vhdx create  [flags] FILE [SIZE]    a new fixed, dynamic or differencing image
//	vhdx write   FILE OFFSET < data     write standard input into the virtual disk
//	vhdx convert [flags] IN OUT         VHDX, qcow2 or raw to VHDX, qcow2 or raw (by OUT's extension)
//	vhdx merge   [flags] CHILD OUT      a differencing chain into one standalone image
//	vhdx ls      [--json] [-r] [--deleted] IMAGE [PART] [PATH]
//	                                    list files of a filesystem in the disk
//	vhdx get     IMAGE PART PATH        a file's bytes to standard output
//	vhdx bodyfile IMAGE [PART]          a body file for mactime
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// exitError carries an exit status with a message for standard error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// runner runs a command with its positional arguments.
type runner func(stdout io.Writer, args []string) error

type command struct {
	name, args, summary string
	minArgs, maxArgs    int
	// define declares the command's flags on fs and returns its runner,
	// which reads them.
	define func(fs *flag.FlagSet) runner
}

var commands = []command{
	{"info", "[--json] FILE", "show every structure of the image and its facts", 1, 1, defineInfo},
	{"check", "[--json] FILE", "validate the image; exit 0 if no errors, 1 if errors, 2 if unreadable", 1, 1, defineCheck},
	{"map", "[--json] FILE", "list the virtual disk as extents (start, length, state, file offset, layer)", 1, 1, defineMap},
	{"parts", "[--json] FILE", "list the partitions of the virtual disk and the filesystem of each", 1, 1, defineParts},
	{"cat", "FILE", "write the whole virtual disk (after log replay) to standard output", 1, 1, defineCat},
	{"create", "[flags] FILE [VIRTUAL_SIZE]", "create an image (sizes take K, M, G, T suffixes; a child takes its parent's size)", 1, 2, defineCreate},
	{"write", "FILE OFFSET < data", "write standard input into the virtual disk at OFFSET", 2, 2, defineWrite},
	{"convert", "[flags] IN OUT", "convert an image (VHDX, qcow2, raw; chains too) to VHDX, qcow2 or raw by OUT's extension (.vhdx/.avhdx, .qcow2, else raw), keeping zero ranges sparse", 2, 2, defineConvert},
	{"merge", "[flags] CHILD OUT", "merge a differencing or backing chain into one standalone image (VHDX, qcow2 or raw by OUT's extension)", 2, 2, defineMerge},
	{"ls", "[--json] [-r] [--deleted] IMAGE [PART] [PATH]", "list a directory of a filesystem in the disk (PART as 'parts' numbers it; --json: one object per line)", 1, 3, defineLs},
	{"get", "IMAGE PART PATH", "write a file of a filesystem in the disk to standard output (NTFS streams as PATH:NAME)", 3, 3, defineGet},
	{"bodyfile", "IMAGE [PART]", "write a body file (The Sleuth Kit's mactime format) of the filesystems in the disk", 1, 2, defineBodyfile},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vhdx COMMAND [ARGS]\n\nCommands:")
	for _, c := range commands {
		if len(c.args) > 28 { // a long synopsis gets a line of its own
			fmt.Fprintf(w, "  %-8s %s\n  %-8s %-28s %s\n", c.name, c.args, "", "", c.summary)
			continue
		}
		fmt.Fprintf(w, "  %-8s %-28s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'vhdx COMMAND --help' for a command's options.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("vhdx "+c.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard) // parse errors and help are printed once, below
		usage := func(w io.Writer) {
			fmt.Fprintf(w, "usage: vhdx %s %s\n\n%s.\n", c.name, c.args, c.summary)
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
		run := c.define(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage(stdout)
				return 0
			}
			fmt.Fprintf(stderr, "vhdx %s: %s\n", c.name, escape(err.Error()))
			usage(stderr)
			return 2
		}
		if fs.NArg() < c.minArgs || fs.NArg() > c.maxArgs {
			fmt.Fprintf(stderr, "vhdx %s: expected arguments %s (see 'vhdx %s --help')\n", c.name, c.args, c.name)
			return 2
		}
		err := run(stdout, fs.Args())
		var ee *exitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			if ee.err != nil {
				fmt.Fprintf(stderr, "vhdx %s: %s\n", c.name, escape(ee.err.Error()))
			}
			return ee.code
		default:
			fmt.Fprintf(stderr, "vhdx %s: %s\n", c.name, escape(err.Error()))
			return 1
		}
	}
	fmt.Fprintf(stderr, "vhdx: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// jsonFlag declares the --json flag.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON for programs instead of text")
}
