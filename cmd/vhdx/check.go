package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

type checkResult struct {
	File     string         `json:"file"`
	Findings []vhdx.Finding `json:"findings"`
	Errors   int            `json:"errors"`
	Warnings int            `json:"warnings"`
}

func runCheck(stdout io.Writer, fs *flag.FlagSet, args []string) error {
	img, closeFile, err := openImage(args[0])
	if err != nil {
		return err
	}
	defer closeFile()
	res := checkResult{File: args[0], Findings: img.Check()}
	for _, f := range res.Findings {
		switch f.Severity {
		case vhdx.SeverityError:
			res.Errors++
		case vhdx.SeverityWarning:
			res.Warnings++
		}
	}
	if res.Findings == nil {
		res.Findings = []vhdx.Finding{}
	}
	if jsonWanted(fs) {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for _, f := range res.Findings {
			off := "-"
			if f.Offset >= 0 {
				off = fmt.Sprintf("%#x", f.Offset)
			}
			fmt.Fprintf(stdout, "%-7s %-32s %-24s %-10s %s\n", f.Severity, f.Code, f.Structure, off, f.Message)
		}
		fmt.Fprintf(stdout, "%s: %d errors, %d warnings, %d findings\n", args[0], res.Errors, res.Warnings, len(res.Findings))
	}
	if res.Errors > 0 {
		return &exitError{code: 1}
	}
	return nil
}
