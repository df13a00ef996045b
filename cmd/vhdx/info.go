package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

type infoJSON struct {
	*report.Summary
	Chain      []report.ChainLayer `json:"chain,omitempty"`
	ChainError string              `json:"chain_error,omitempty"`
	Structures report.Structures   `json:"structures"`
}

func defineInfo(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	return func(stdout io.Writer, args []string) error {
		return runInfo(stdout, *asJSON, args)
	}
}

func runInfo(stdout io.Writer, asJSON bool, args []string) error {
	s := &session{}
	defer s.close()
	img, err := s.openImage(args[0])
	if err != nil {
		return err
	}
	// A BAT that cannot be read in full still leaves the rest to show.
	sum, batErr := report.Summarize(img)
	if sum == nil {
		return batErr
	}
	out := infoJSON{Summary: sum, Structures: report.StructuresOf(img)}
	if sum.HasParent {
		if disk, err := s.openDisk(img, args[0]); err != nil {
			out.ChainError = err.Error()
		} else {
			out.Chain = report.Chain(disk.Layers())
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printInfo(stdout, img, out)
	}
	if batErr != nil {
		return fmt.Errorf("%s: block counts are incomplete: %w", args[0], batErr)
	}
	return nil
}

// size formats n both ways: "1 GiB (1073741824 bytes)".
func size(n uint64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	return fmt.Sprintf("%s %s (%d bytes)", s, units[u], n)
}

func printInfo(w io.Writer, img *vhdx.Image, out infoJSON) {
	s := out.Summary
	p := func(k string, format string, a ...any) {
		fmt.Fprintf(w, "  %-24s "+format+"\n", escapeArgs(append([]any{k + ":"}, a...))...)
	}
	fmt.Fprintln(w, "Overview")
	p("creator", "%s", s.Creator)
	p("disk type", "%s", s.DiskType)
	p("virtual size", "%s", size(s.VirtualSize))
	p("file size", "%s", size(uint64(s.FileSize)))
	p("allocated", "%s", size(uint64(s.AllocatedSize)))
	p("block size", "%s", size(uint64(s.BlockSize)))
	p("sector size", "%d logical, %d physical", s.LogicalSectorSize, s.PhysicalSectorSize)
	p("page 83 id", "%s", s.Page83)
	p("leave blocks allocated", "%t", s.LeaveBlocksAllocated)
	p("has parent", "%t", s.HasParent)
	switch {
	case out.ChainError != "":
		p("parent chain", "BROKEN: %s", out.ChainError)
	case out.Chain != nil:
		for i, l := range out.Chain {
			p(fmt.Sprintf("chain layer %d", i), "%s (%s, DataWriteGuid %s)", l.Name, l.DiskType, l.DataWriteGUID)
		}
	case s.DiskError != "":
		p("virtual disk", "NOT READABLE: %s", s.DiskError)
	}
	switch {
	case s.Replay != nil:
		p("log", "dirty: %d entries replayed in memory, %d ranges changed, file size %d -> %d", s.Replay.Entries, len(s.Replay.Changes), s.Replay.FileSizeBefore, s.Replay.FileSizeAfter)
	case s.LogReplayNeeded:
		p("log", "dirty, but no valid active sequence to replay")
	default:
		p("log", "clean")
	}
	fmt.Fprintln(w, "\nBlocks")
	p("payload blocks", "%d (chunk ratio %d, %d BAT entries)", s.PayloadBlocks, s.ChunkRatio, s.BATEntries)
	for _, st := range vhdx.BlockStates {
		k := st.String()
		if s.BlockStates[k] == 0 && s.BlockStatesOnDisk[k] == 0 {
			continue
		}
		if s.Replay != nil {
			p(k, "%d (on disk before replay: %d)", s.BlockStates[k], s.BlockStatesOnDisk[k])
		} else {
			p(k, "%d", s.BlockStates[k])
		}
	}
	if s.HasParent {
		p("sector bitmaps present", "%d", s.SectorBitmapsPresent)
	}

	fmt.Fprintf(w, "\nFile type identifier at %#x\n", img.Identifier.Offset)
	p("signature", "%q", img.Identifier.Signature)
	p("creator", "%q", img.Identifier.Creator)
	for i, h := range img.Headers {
		mark := ""
		if i == img.Current {
			mark = " (current: " + img.CurrentReason + ")"
		}
		fmt.Fprintf(w, "\nHeader %d at %#x%s\n", i+1, h.Offset, mark)
		p("valid", "%t %s", h.Valid, h.Problem)
		p("checksum", "%#08x (computed %#08x)", h.Checksum, h.ComputedChecksum)
		p("sequence number", "%d", h.SequenceNumber)
		p("file write guid", "%s", h.FileWriteGUID)
		p("data write guid", "%s", h.DataWriteGUID)
		p("log guid", "%s", h.LogGUID)
		p("version", "%d (log version %d)", h.Version, h.LogVersion)
		p("log", "offset %#x, length %s", h.LogOffset, size(uint64(h.LogLength)))
	}
	for i, t := range img.RegionTables {
		fmt.Fprintf(w, "\nRegion table %d at %#x\n", i+1, t.Offset)
		p("valid", "%t %s", t.Valid, t.Problem)
		p("checksum", "%#08x (computed %#08x)", t.Checksum, t.ComputedChecksum)
		for _, e := range t.Entries {
			p(e.Name, "%s offset %#x length %s required=%t", e.GUID, e.FileOffset, size(uint64(e.Length)), e.Required)
		}
	}
	if m := img.Metadata; m != nil {
		fmt.Fprintf(w, "\nMetadata region at %#x (%s)\n", m.Offset, size(uint64(m.Length)))
		if m.Problem != "" {
			p("problem", "%s", m.Problem)
		}
		for _, e := range m.Entries {
			p(e.Name, "%s at %#x, %d bytes, user=%t virtual_disk=%t required=%t", e.ItemID, e.FileOffset, e.ItemLength, e.IsUser, e.IsVirtualDisk, e.IsRequired)
		}
		if pl := m.ParentLocator; pl != nil {
			fmt.Fprintf(w, "\nParent locator at %#x (type %s)\n", pl.Offset, pl.LocatorType)
			for _, kv := range pl.Entries {
				p(kv.Key, "%s", kv.Value)
			}
		}
	}
	if l := img.Log; l != nil {
		fmt.Fprintf(w, "\nLog at %#x (%s), guid %s\n", l.Offset, size(uint64(l.Length)), l.GUID)
		if l.Problem != "" {
			p("problem", "%s", l.Problem)
		}
		for _, e := range l.Entries {
			status := "stale"
			switch {
			case e.Replayed:
				status = "active, replayed"
			case e.Active:
				status = "active, already applied (before the head's tail)"
			case !e.Valid:
				status = "invalid: " + e.Problem
			}
			p(fmt.Sprintf("entry @%#x", e.Offset), "seq %d, %d descriptors, tail %#x, flushed %#x, last %#x, %s", e.SequenceNumber, len(e.Descriptors), e.Tail, e.FlushedFileOffset, e.LastFileOffset, status)
			for _, d := range e.Descriptors {
				fmt.Fprintf(w, "      %s -> file offset %#x, %d bytes\n", escape(d.Signature), d.TargetOffset, d.Length)
			}
		}
	}
	if b := img.BAT; b != nil {
		fmt.Fprintf(w, "\nBAT at %#x (%s), %d entries\n", b.Offset, size(uint64(b.Length)), b.EntryCount)
	}
}
