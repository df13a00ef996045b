// Command vhdx inspects Hyper-V virtual hard disk (VHDX) images: it prints
// their structures, validates them, maps and extracts their virtual disks.
//
//	vhdx info  [--json] FILE   structures and facts
//	vhdx check [--json] FILE   validation findings (exit 1 on errors, 2 if unreadable)
//	vhdx map   [--json] FILE   virtual disk extents by state
//	vhdx cat   FILE            the virtual disk, raw, to standard output
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

type command struct {
	name, args, summary string
	run                 func(stdout io.Writer, fs *flag.FlagSet, args []string) error
	jsonFlag            bool
}

var commands = []command{
	{name: "info", args: "[--json] FILE", summary: "show every structure of the image and its facts", run: runInfo, jsonFlag: true},
	{name: "check", args: "[--json] FILE", summary: "validate the image; exit 0 if no errors, 1 if errors, 2 if unreadable", run: runCheck, jsonFlag: true},
	{name: "map", args: "[--json] FILE", summary: "list the virtual disk as extents (start, length, state, file offset)", run: runMap, jsonFlag: true},
	{name: "cat", args: "FILE", summary: "write the whole virtual disk (after log replay) to standard output", run: runCat},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vhdx COMMAND [ARGS]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-6s %-14s %s\n", c.name, c.args, c.summary)
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
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "usage: vhdx %s %s\n\n%s.\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		if c.jsonFlag {
			fs.Bool("json", false, "print JSON for programs instead of text")
		}
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				return 0
			}
			return 2
		}
		if fs.NArg() != 1 {
			fmt.Fprintf(stderr, "vhdx %s: expected one FILE argument (see 'vhdx %s --help')\n", c.name, c.name)
			return 2
		}
		err := c.run(stdout, fs, fs.Args())
		var ee *exitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			if ee.err != nil {
				fmt.Fprintf(stderr, "vhdx %s: %v\n", c.name, ee.err)
			}
			return ee.code
		default:
			fmt.Fprintf(stderr, "vhdx %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vhdx: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func jsonWanted(fs *flag.FlagSet) bool {
	f := fs.Lookup("json")
	return f != nil && f.Value.String() == "true"
}
