package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/qcow2"
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
	// A BAT that cannot be read in full still leaves the rest to show.
	o, countErr := report.OverviewOf(img, disk, diskErr)
	if o == nil {
		return countErr
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(o); err != nil {
			return err
		}
	} else {
		printOverview(stdout, o)
		switch n := img.Native().(type) {
		case *vhdx.Image:
			printVHDX(stdout, n, o.VHDX)
		case *qcow2.Image:
			printQCOW2(stdout, o.QCOW2)
		}
	}
	if countErr != nil {
		return fmt.Errorf("%s: block counts are incomplete: %w", args[0], countErr)
	}
	return nil
}

// field prints one "key: value" line of a text report.
// Strings from the file are escaped (see escape).
func field(w io.Writer, k string, format string, a ...any) {
	fmt.Fprintf(w, "  %-24s "+format+"\n", escapeArgs(append([]any{k + ":"}, a...))...)
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
				fmt.Fprintf(w, "      %s -> file offset %#x, %d bytes\n", escape(d.Signature), d.TargetOffset, d.Length)
			}
		}
	}
	if b := img.BAT; b != nil {
		fmt.Fprintf(w, "\nBAT at %#x (%s), %d entries\n", b.Offset, size(uint64(b.Length)), b.EntryCount)
	}
}

// printQCOW2 prints the facts and structures of a qcow2 image.
func printQCOW2(w io.Writer, q *report.QCOW2Info) {
	p := func(k string, format string, a ...any) { field(w, k, format, a...) }
	h := q.Header
	fmt.Fprintln(w, "\nqcow2")
	p("version", "%d", q.Version)
	p("compression", "%s", q.Compression)
	p("encryption", "%s", q.Encryption)
	p("refcount bits", "%d", q.RefcountBits)
	p("extended L2 entries", "%t", q.ExtendedL2)
	p("dirty", "%t", q.Dirty)
	p("corrupt", "%t", q.Corrupt)
	if q.BackingFile != "" {
		p("backing file", "%q (format %q)", q.BackingFile, q.BackingFormat)
	}
	if q.DataFile != "" {
		p("data file", "%q (raw: %t)", q.DataFile, q.DataFileRaw)
	}
	for _, f := range q.Features {
		p(f.Kind.String()+" feature", "bit %d: %s", f.Bit, f.Name)
	}
	if c := q.Clusters; c != nil {
		for _, k := range qcow2.ClusterKinds {
			if n := c.Kinds[k.String()]; n > 0 {
				p(k.String()+" clusters", "%d", n)
			}
		}
	}
	fmt.Fprintf(w, "\nHeader at %#x (%d bytes)\n", h.Offset, h.Length)
	p("cluster bits", "%d", h.ClusterBits)
	p("L1 table", "offset %#x, %d entries", h.L1TableOffset, h.L1Size)
	p("refcount table", "offset %#x, %d clusters", h.RefcountTableOffset, h.RefcountTableClusters)
	p("snapshots", "offset %#x, %d entries", h.SnapshotsOffset, h.NbSnapshots)
	p("incompatible features", "%#x", h.IncompatibleFeatures)
	p("compatible features", "%#x", h.CompatibleFeatures)
	p("autoclear features", "%#x", h.AutoclearFeatures)
	for _, e := range q.Extensions {
		if e.Type != 0 {
			fmt.Fprintf(w, "\nHeader extension at %#x: %s (type %#08x, %d bytes)\n", e.Offset, escape(e.Name), e.Type, e.Length)
		}
	}
	for _, s := range q.Snapshots {
		fmt.Fprintf(w, "\nSnapshot %q at %#x\n", s.ID, s.Offset)
		p("name", "%q", s.Name)
		p("date", "%s", s.Date().UTC().Format("2006-01-02 15:04:05 UTC"))
		p("VM state", "%s", size(s.StateSize()))
		p("L1 table", "offset %#x, %d entries", s.L1TableOffset, s.L1Size)
		if s.DiskSize != 0 {
			p("disk size", "%s", size(s.DiskSize))
		}
	}
}
