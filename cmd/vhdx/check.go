package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

type checkResult struct {
	File string `json:"file"`
	report.Findings
}

func defineCheck(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	return func(stdout io.Writer, args []string) error {
		return runCheck(stdout, *asJSON, args)
	}
}

func runCheck(stdout io.Writer, asJSON bool, args []string) error {
	s := &session{}
	defer s.close()
	img, err := s.openImage(args[0])
	if err != nil {
		return err
	}
	findings := img.Check()
	if img.Metadata != nil && img.Metadata.HasParent {
		findings = append(findings, s.checkParents(img, args[0])...)
	}
	res := checkResult{File: args[0], Findings: report.Tally(findings)}
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
		fmt.Fprintf(stdout, "%s: %d errors, %d warnings, %d findings\n", escape(args[0]), res.Errors, res.Warnings, len(res.Findings.Findings))
	}
	if res.Errors > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// checkParents verifies the chain of a differencing disk and checks every
// parent, naming the file in each of their findings.
func (s *session) checkParents(img *vhdx.Image, name string) []vhdx.Finding {
	disk, err := s.openDisk(img, name)
	var ce *vhdx.ChainError
	switch {
	case errors.As(err, &ce):
		return []vhdx.Finding{chainFinding(img, err)}
	case err != nil:
		return nil // the image itself cannot be read: Check says why
	}
	var out []vhdx.Finding
	for _, l := range disk.Layers()[1:] {
		for _, f := range l.Image.Check() {
			f.Structure = l.Name + ": " + f.Structure
			out = append(out, f)
		}
	}
	return out
}

// chainFinding turns an error met following the chain into a finding.
func chainFinding(img *vhdx.Image, err error) vhdx.Finding {
	code := "chain.parent_mismatch"
	switch {
	case errors.Is(err, vhdx.ErrParentNotFound):
		code = "chain.parent_missing"
	case errors.Is(err, vhdx.ErrChainLoop):
		code = "chain.loop"
	case errors.Is(err, vhdx.ErrChainTooDeep):
		code = "chain.too_deep"
	}
	off := int64(-1)
	if pl := img.Metadata.ParentLocator; pl != nil {
		off = pl.Offset
	}
	return vhdx.Finding{Code: code, Severity: vhdx.SeverityError, Structure: "parent locator", Offset: off, Message: err.Error()}
}
