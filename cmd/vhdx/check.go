package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

type checkResult struct {
	File string `json:"file"`
	report.Findings
}

func defineCheck(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error {
		return runCheck(s, stdout, *asJSON, args)
	}
}

func runCheck(s *session, stdout io.Writer, asJSON bool, args []string) error {
	defer s.close()
	img, err := s.openImage(args[0])
	if err != nil {
		return err
	}
	disk, err := s.openDisk(img)
	res := checkResult{File: args[0], Findings: report.Tally(checkChain(img, disk, err))}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for _, f := range res.Findings.Findings {
			off := "-"
			if f.Offset >= 0 {
				off = fmt.Sprintf("%#x", f.Offset)
			}
			fmt.Fprintf(stdout, "%-7s %-32s %-24s %-10s %s\n", f.Severity, f.Code, escape(f.Structure), off, escape(f.Message))
		}
		fmt.Fprintf(stdout, "%s: %s, %s, %s\n", escape(args[0]), count(res.Errors, "error", "errors"), count(res.Warnings, "warning", "warnings"), count(len(res.Findings.Findings), "finding", "findings"))
	}
	if res.Errors > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// checkChain checks img and every file its disk reads through; a chain
// that could not be opened is a finding of its own, after the findings of
// the layers found before the problem.
func checkChain(img *vdisk.Image, disk *vdisk.Disk, diskErr error) []vdisk.Finding {
	var ce *vdisk.ChainError
	switch {
	case diskErr == nil:
		return disk.Check()
	case errors.As(diskErr, &ce):
		out := img.Check()
		for _, l := range ce.Found[min(1, len(ce.Found)):] {
			for _, f := range l.Image.Check() {
				f.Structure = l.Name + ": " + f.Structure
				out = append(out, f)
			}
		}
		return append(out, vdisk.Finding{Code: ce.Code(), Severity: vdisk.SeverityError, Structure: string(ce.Ref.Role), Offset: ce.Ref.Offset, Message: diskErr.Error()})
	}
	return img.Check() // the image's own findings say why its disk cannot be read
}

// count says "1 error" or "2 errors".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
