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

func defineInfo(fs *flag.FlagSet) runner {
	asJSON := jsonFlag(fs)
	s := &session{}
	s.flags(fs)
	return func(stdout io.Writer, args []string) error {
		return runInfo(s, stdout, *asJSON, args)
	}
}

func runInfo(s *session, stdout io.Writer, asJSON bool, args []string) error {
	defer s.close()
	img, err := s.openImage(args[0])
	if err != nil {
		return err
	}
	disk, diskErr := s.openDisk(img)
	o, err := report.OverviewOf(img, disk, diskErr)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(o)
	}
	printOverview(stdout, o)
	if v, ok := img.Native().(*vhdx.Image); ok {
		printVHDX(stdout, v, o.VHDX)
	}
	return nil
}

// field prints one "key: value" line of a text report.
func field(w io.Writer, k string, format string, a ...any) {
	fmt.Fprintf(w, "  %-24s "+format+"\n", append([]any{k + ":"}, a...)...)
}

// printOverview prints what every format has in common.
func printOverview(w io.Writer, o *report.Overview) {
	fmt.Fprintln(w, "Overview")
	field(w, "format", "%s", o.Format)
	field(w, "disk type", "%s", o.DiskType)
	field(w, "virtual size", "%s", size(uint64(o.VirtualSize)))
	field(w, "file size", "%s", size(uint64(o.FileSize)))
	field(w, "allocated", "%s", size(uint64(o.AllocatedSize)))
	if o.AllocationUnit > 0 {
		field(w, "allocation unit", "%s", size(uint64(o.AllocationUnit)))
	}
	field(w, "sector size", "%d", o.SectorSize)
	if len(o.Layers) > 1 || o.ChainError != "" {
		for i, l := range o.Layers {
			field(w, fmt.Sprintf("layer %d", i), "%s (%s, %s)", l.Name, l.Role, l.Format)
		}
	}
	switch {
	case o.ChainError != "":
		field(w, "chain", "BROKEN: %s", o.ChainError)
	case o.DiskError != "":
		field(w, "virtual disk", "NOT READABLE: %s", o.DiskError)
	}
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

// printVHDX prints the facts and structures of a VHDX image.
func printVHDX(w io.Writer, img *vhdx.Image, out *report.VHDXInfo) {
	s := out.Summary
	p := func(k string, format string, a ...any) { field(w, k, format, a...) }
	fmt.Fprintln(w, "\nVHDX")
	p("creator", "%s", s.Creator)
	p("physical sector size", "%d", s.PhysicalSectorSize)
	p("page 83 id", "%s", s.Page83)
	p("leave blocks allocated", "%t", s.LeaveBlocksAllocated)
	p("has parent", "%t", s.HasParent)
	for i, l := range out.Chain {
		p(fmt.Sprintf("chain layer %d", i), "%s (%s, DataWriteGuid %s)", l.Name, l.DiskType, l.DataWriteGUID)
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
				fmt.Fprintf(w, "      %s -> file offset %#x, %d bytes\n", d.Signature, d.TargetOffset, d.Length)
			}
		}
	}
	if b := img.BAT; b != nil {
		fmt.Fprintf(w, "\nBAT at %#x (%s), %d entries\n", b.Offset, size(uint64(b.Length)), b.EntryCount)
	}
}
