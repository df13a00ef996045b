package vhdx

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/google/uuid"
)

// Severity grades a finding.
type Severity string

// Severities, from worst to mildest.
const (
	SeverityError   Severity = "error"   // the file breaks the specification
	SeverityWarning Severity = "warning" // suspicious, but readable
	SeverityInfo    Severity = "info"    // worth knowing; accepted real-world practice
)

// Finding is one result of Check.
type Finding struct {
	Code      string   `json:"code"` // stable identifier, e.g. "header.checksum"
	Severity  Severity `json:"severity"`
	Structure string   `json:"structure"` // e.g. "header 2", "BAT entry 17"
	Offset    int64    `json:"offset"`    // file offset of the bytes concerned
	Message   string   `json:"message"`   // one sentence for people
}

// maxFindingsPerCode caps repeated findings (a corrupt 64 TiB BAT could
// otherwise yield millions); the rest are summarised in one more finding.
const maxFindingsPerCode = 100

type checker struct {
	img      *Image
	findings []Finding
	perCode  map[string]int
}

func (c *checker) add(code string, sev Severity, structure string, off int64, format string, args ...any) {
	c.perCode[code]++
	if c.perCode[code] > maxFindingsPerCode {
		return
	}
	c.findings = append(c.findings, Finding{Code: code, Severity: sev, Structure: structure, Offset: off, Message: fmt.Sprintf(format, args...)})
}

// Check validates the image against the specification and returns every
// finding, worst first within each structure's order of appearance. It reads
// the whole BAT once. Real-world practice the specification allows or that
// Windows and QEMU produce (equal header sequence numbers, regions not
// marked required, stale log entries, blocks not aligned to the block size)
// is reported at most as info.
func (img *Image) Check() []Finding {
	c := &checker{img: img, perCode: map[string]int{}}
	c.headers()
	c.regions()
	c.log()
	c.metadata()
	c.bat()
	for _, code := range slices.Sorted(maps.Keys(c.perCode)) {
		if n := c.perCode[code]; n > maxFindingsPerCode {
			c.findings = append(c.findings, Finding{Code: code, Severity: SeverityInfo, Structure: "check", Offset: -1, Message: fmt.Sprintf("%d more %q findings not listed", n-maxFindingsPerCode, code)})
		}
	}
	return c.findings
}

// count says "1 entry" or "2 entries".
func count(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// LogEntryName names entry i of Log.Entries by its position in the log,
// as findings and field lists do: "log entry 1" is the first found.
func LogEntryName(i int) string { return fmt.Sprintf("log entry %d", i+1) }

func (c *checker) headers() {
	img := c.img
	for i, h := range img.Headers {
		if h == nil {
			continue
		}
		name := fmt.Sprintf("header %d", i+1)
		switch {
		case h.Signature != "head":
			c.add("header.signature", SeverityError, name, h.Offset, "%s", h.Problem)
			continue
		case h.Checksum != h.ComputedChecksum:
			c.add("header.checksum", SeverityError, name, h.Offset+4, "%s", h.Problem)
			continue
		case h.Version != 1:
			c.add("header.version", SeverityError, name, h.Offset+66, "%s", h.Problem)
			continue
		}
		if h.LogVersion != 0 {
			c.add("header.log_version", SeverityError, name, h.Offset+64, "log version is %d, want 0", h.LogVersion)
		}
		if h.LogOffset%mib != 0 || h.LogLength%mib != 0 {
			c.add("header.log_alignment", SeverityError, name, h.Offset+68, "log offset %d and length %d must be multiples of 1 MiB", h.LogOffset, h.LogLength)
		}
	}
	if h := img.CurrentHeader(); h != nil && h.LogLength > 0 {
		if end, ok := spanEnd(h.LogOffset, uint64(h.LogLength)); !ok || h.LogOffset < headerAreaSize || end > uint64(img.Size) {
			c.add("header.log_bounds", SeverityError, fmt.Sprintf("header %d", img.Current+1), h.Offset+68, "the log (offset %#x, length %d) does not lie between the header section and the end of the %d-byte file", h.LogOffset, h.LogLength, img.Size)
		}
	}
	h0, h1 := img.Headers[0], img.Headers[1]
	if h0 != nil && h1 != nil && h0.Valid && h1.Valid {
		if h0.SequenceNumber == h1.SequenceNumber {
			c.add("header.equal_sequence", SeverityInfo, "headers", h0.Offset+8, "both headers have sequence number %d; header 1 is used (disk2vhd writes files like this)", h0.SequenceNumber)
		}
		if h0.LogGUID != h1.LogGUID && h0.LogGUID != uuid.Nil && h1.LogGUID != uuid.Nil {
			c.add("header.log_guid_differs", SeverityInfo, "headers", h0.Offset+48, "the headers name different logs (%s and %s)", h0.LogGUID, h1.LogGUID)
		}
	}
}

func (c *checker) regions() {
	img := c.img
	for i, t := range img.RegionTables {
		if t == nil {
			continue
		}
		name := fmt.Sprintf("region table %d", i+1)
		switch {
		case t.Signature != "regi":
			c.add("region.signature", SeverityError, name, t.Offset, "%s", t.Problem)
		case t.Checksum != t.ComputedChecksum:
			c.add("region.checksum", SeverityError, name, t.Offset+4, "%s", t.Problem)
		case t.EntryCount > maxRegionEntries:
			c.add("region.entry_count", SeverityError, name, t.Offset+8, "%s", t.Problem)
		case !t.Valid:
			c.add("region.unreadable", SeverityError, name, t.Offset, "%s", t.Problem)
		}
		if t.Valid && t.Reserved != 0 {
			c.add("region.reserved", SeverityWarning, name, t.Offset+12, "reserved field is %#x, want 0", t.Reserved)
		}
	}
	r0, r1 := img.RegionTables[0], img.RegionTables[1]
	if r0 != nil && r1 != nil && r0.Valid && r1.Valid && !sameEntries(r0, r1) {
		c.add("region.copies_differ", SeverityError, "region tables", r1.Offset, "the two region table copies list different regions")
	}
	t := img.Regions
	if t == nil {
		return
	}
	type span struct {
		name     string
		off, end uint64
		at       int64
	}
	spans := []span{{"header section", 0, headerAreaSize, 0}}
	if h := img.CurrentHeader(); h.LogLength > 0 {
		spans = append(spans, span{"log", h.LogOffset, uint64(fileEnd(h.LogOffset, uint64(h.LogLength))), h.Offset + 68})
	}
	seen := map[uuid.UUID]int{}
	for _, e := range t.Entries {
		structure := fmt.Sprintf("region %s", e.Name)
		seen[e.GUID]++
		if seen[e.GUID] == 2 {
			c.add("region.duplicate", SeverityError, structure, e.Offset, "region %s is listed more than once", e.GUID)
		}
		if e.Flags&^1 != 0 {
			c.add("region.flags_reserved", SeverityWarning, structure, e.Offset+28, "reserved flag bits set: %#x", e.Flags)
		}
		switch {
		case e.Name == "unknown" && e.Required:
			c.add("region.unknown_required", SeverityError, structure, e.Offset, "unknown region %s is marked required: the file cannot be read", e.GUID)
		case e.Name == "unknown":
			c.add("region.unknown_optional", SeverityInfo, structure, e.Offset, "unknown optional region %s is ignored", e.GUID)
		case !e.Required:
			c.add("region.not_required", SeverityInfo, structure, e.Offset+28, "the %s region is not marked required (QEMU writes files like this)", e.Name)
		}
		if e.FileOffset%mib != 0 || e.Length%mib != 0 || e.Length < mib {
			c.add("region.alignment", SeverityError, structure, e.Offset+16, "offset %d and length %d must be multiples of 1 MiB, length at least 1 MiB", e.FileOffset, e.Length)
		}
		end := uint64(fileEnd(e.FileOffset, uint64(e.Length)))
		if end > uint64(img.viewSize) {
			c.add("region.beyond_eof", SeverityError, structure, e.Offset+16, "region ends at %d, beyond the %d-byte file", end, img.viewSize)
		}
		for _, s := range spans {
			if e.FileOffset < s.end && s.off < end {
				c.add("region.overlap", SeverityError, structure, e.Offset+16, "region [%d, %d) overlaps the %s [%d, %d)", e.FileOffset, end, s.name, s.off, s.end)
			}
		}
		spans = append(spans, span{structure, e.FileOffset, end, e.Offset})
	}
	for _, g := range []uuid.UUID{RegionBAT, RegionMetadata} {
		if seen[g] == 0 {
			c.add("region.missing", SeverityError, "region table", t.Offset, "the %s region is missing", regionName(g))
		}
	}
}

func (c *checker) log() {
	l := c.img.Log
	if l == nil {
		return
	}
	h := c.img.CurrentHeader()
	if l.Problem != "" {
		sev := SeverityError
		if !l.ReplayNeeded || !l.hasEntriesOf(l.GUID) {
			// Nothing of this log was ever written (a crash between the
			// header update and the first entry): there is nothing to lose.
			sev = SeverityWarning
		}
		c.add("log.unusable", sev, "log", l.Offset, "%s", l.Problem)
	}
	for _, f := range l.unsafe {
		c.add(f.Code, f.Severity, f.Structure, f.Offset, "%s", f.Message)
	}
	if len(l.unsafe) > 0 {
		c.add("log.replay_refused", SeverityError, "log", h.Offset+48, "the file was not closed cleanly, but its log writes where no log may: it was not replayed, and the disk reads as stored")
	} else if l.ReplayNeeded && len(l.Active) > 0 {
		n := len(l.Active) - l.ReplayFrom
		c.add("log.replay_needed", SeverityWarning, "log", h.Offset+48, "the file was not closed cleanly: %s of its log %s replayed in memory (the active sequence has %s)", count(n, "entry", "entries"), plural(n, "was", "were"), count(len(l.Active), "entry", "entries"))
	}
	// Stale entries are normal (every transaction leaves one behind), so
	// they are summarised: one finding for earlier logs, one for the
	// current log's entries outside the active sequence.
	var stale [2][]int // indexes in l.Entries: [0] earlier logs, [1] current log
	for i, e := range l.Entries {
		structure := LogEntryName(i)
		switch {
		case !e.Valid && e.LogGUID == l.GUID && l.ReplayNeeded:
			c.add("log.entry_invalid", SeverityWarning, structure, e.Offset, "entry of the current log ignored: %s (a torn write)", e.Problem)
		case !e.Valid:
			c.add("log.entry_invalid_old", SeverityInfo, structure, e.Offset, "invalid entry of an earlier log ignored: %s", e.Problem)
		case !e.Active && e.LogGUID == l.GUID:
			stale[1] = append(stale[1], i)
		case !e.Active:
			stale[0] = append(stale[0], i)
		}
	}
	for i, which := range []string{"earlier logs", "the current log outside the active sequence"} {
		if es := stale[i]; len(es) > 0 {
			first := l.Entries[es[0]]
			where := fmt.Sprintf("at %#x", first.Offset)
			if len(es) > 1 {
				where = "the first " + where
			}
			c.add("log.entry_stale", SeverityInfo, LogEntryName(es[0]), first.Offset, "%s of %s ignored (%s)", count(len(es), "stale entry", "stale entries"), which, where)
		}
	}
	if len(l.Active) > 0 {
		at := l.Active[len(l.Active)-1]
		head := l.Entries[at]
		if int64(head.FlushedFileOffset) > c.img.Size {
			c.add("log.flushed_beyond_eof", SeverityError, LogEntryName(at), head.Offset+48, "the log says the file was flushed at %d bytes but it has only %d: data is missing", head.FlushedFileOffset, c.img.Size)
		}
	}
}

func (c *checker) metadata() {
	m := c.img.Metadata
	if m == nil {
		return
	}
	if m.Problem != "" {
		c.add("metadata.table", SeverityError, "metadata table", m.Offset, "%s", m.Problem)
		return
	}
	for _, f := range m.problems {
		c.add(f.Code, f.Severity, f.Structure, f.Offset, "%s", f.Message)
	}
	type item struct{ lo, hi uint64 }
	var items []item
	seen := map[uuid.UUID]bool{}
	for _, e := range m.Entries {
		structure := "metadata entry " + e.Name
		if seen[e.ItemID] {
			c.add("metadata.duplicate", SeverityError, structure, e.Offset, "item %s is listed more than once", e.ItemID)
		}
		seen[e.ItemID] = true
		if e.Flags&^7 != 0 {
			c.add("metadata.flags_reserved", SeverityWarning, structure, e.Offset+24, "reserved flag bits set: %#x", e.Flags)
		}
		switch {
		case e.ItemLength == 0 && e.ItemOffset != 0:
			c.add("metadata.zero_length_offset", SeverityError, structure, e.Offset+16, "a zero-length item must have offset 0, not %d", e.ItemOffset)
		case e.ItemLength == 0:
		case e.ItemOffset < metadataTableSize || uint64(e.ItemOffset)+uint64(e.ItemLength) > uint64(m.Length):
			if e.Name == "unknown" {
				c.add("metadata.item_bounds", SeverityError, structure, e.Offset+16, "item (offset %d, length %d) lies outside the region's data area", e.ItemOffset, e.ItemLength)
			}
		default:
			items = append(items, item{uint64(e.ItemOffset), uint64(e.ItemOffset) + uint64(e.ItemLength)})
		}
		switch {
		case e.Name == "unknown" && e.IsRequired:
			c.add("metadata.unknown_required", SeverityError, structure, e.Offset, "unknown item %s is marked required: the file cannot be read", e.ItemID)
		case e.Name == "unknown":
			c.add("metadata.unknown_optional", SeverityInfo, structure, e.Offset, "unknown optional item %s is ignored", e.ItemID)
		case !e.IsRequired:
			c.add("metadata.not_required", SeverityWarning, structure, e.Offset+24, "known item %s is not marked required", e.Name)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].lo < items[j].lo })
	for i := 1; i < len(items); i++ {
		if items[i].lo < items[i-1].hi {
			c.add("metadata.overlap", SeverityError, "metadata", m.Offset+int64(items[i].lo), "items overlap at region offset %d", items[i].lo)
		}
	}
	for _, id := range []uuid.UUID{ItemFileParameters, ItemVirtualDiskSize, ItemPage83Data, ItemLogicalSectorSize, ItemPhysicalSectorSize} {
		if !seen[id] {
			c.add("metadata.missing", SeverityError, "metadata table", m.Offset, "required item %q is missing", itemNames[id])
		}
	}
	c.metadataValues()
}

func (c *checker) metadataValues() {
	m := c.img.Metadata
	at := func(id uuid.UUID) int64 {
		if e := m.entry(id); e != nil {
			return e.FileOffset
		}
		return m.Offset
	}
	if seen := m.entry(ItemFileParameters) != nil; seen && (m.BlockSize < minBlockSize || m.BlockSize > maxBlockSize || m.BlockSize&(m.BlockSize-1) != 0) {
		c.add("metadata.block_size", SeverityError, "file parameters", at(ItemFileParameters), "block size %d is not a power of two between 1 MiB and 256 MiB", m.BlockSize)
	}
	if m.entry(ItemLogicalSectorSize) != nil && m.LogicalSectorSize != 512 && m.LogicalSectorSize != 4096 {
		c.add("metadata.logical_sector_size", SeverityError, "logical sector size", at(ItemLogicalSectorSize), "logical sector size %d, want 512 or 4096", m.LogicalSectorSize)
	}
	if m.entry(ItemPhysicalSectorSize) != nil && m.PhysicalSectorSize != 512 && m.PhysicalSectorSize != 4096 {
		c.add("metadata.physical_sector_size", SeverityError, "physical sector size", at(ItemPhysicalSectorSize), "physical sector size %d, want 512 or 4096", m.PhysicalSectorSize)
	}
	if m.entry(ItemVirtualDiskSize) != nil && (m.VirtualSize == 0 || m.VirtualSize > maxVirtualSize || (m.LogicalSectorSize != 0 && m.VirtualSize%uint64(m.LogicalSectorSize) != 0)) {
		c.add("metadata.virtual_size", SeverityError, "virtual disk size", at(ItemVirtualDiskSize), "virtual size %d is not a non-zero multiple of the logical sector size up to 64 TiB", m.VirtualSize)
	}
	hasLocator := m.entry(ItemParentLocator) != nil
	switch {
	case m.HasParent && !hasLocator:
		c.add("metadata.parent_locator_missing", SeverityError, "file parameters", at(ItemFileParameters), "the disk has a parent but no parent locator")
	case !m.HasParent && hasLocator:
		c.add("metadata.parent_locator_unexpected", SeverityError, "parent locator", at(ItemParentLocator), "a parent locator is present but the disk has no parent")
	}
	if p := m.ParentLocator; p != nil {
		if link, ok := p.Get("parent_linkage"); !ok {
			c.add("parent_locator.no_linkage", SeverityError, "parent locator", p.Offset, "the parent_linkage key is missing")
		} else if _, err := uuid.Parse(link); err != nil {
			c.add("parent_locator.bad_linkage", SeverityError, "parent locator", p.Offset, "parent_linkage %q is not a GUID", link)
		}
		_, rel := p.Get("relative_path")
		_, vol := p.Get("volume_path")
		_, abs := p.Get("absolute_win32_path")
		if !rel && !vol && !abs {
			c.add("parent_locator.no_path", SeverityError, "parent locator", p.Offset, "no relative_path, volume_path or absolute_win32_path key")
		}
	}
}

func (c *checker) bat() {
	img := c.img
	b := img.BAT
	if b == nil {
		if img.readErr != nil {
			c.add("disk.unreadable", SeverityError, "virtual disk", -1, "the virtual disk cannot be read: %v", img.readErr)
		}
		return
	}
	m := img.Metadata
	fileSize := img.viewSize
	reserved := []struct {
		name     string
		off, end int64
	}{{"header section", 0, headerAreaSize}, {"metadata region", m.Offset, fileEnd(uint64(m.Offset), uint64(m.Length))}, {"BAT region", b.Offset, fileEnd(uint64(b.Offset), uint64(b.Length))}}
	if h := img.CurrentHeader(); h.LogLength > 0 {
		reserved = append(reserved, struct {
			name     string
			off, end int64
		}{"log", fileEnd(h.LogOffset, 0), fileEnd(h.LogOffset, uint64(h.LogLength))})
	}
	used := newMiBMap(fileSize)
	partialChunks := map[uint64]bool{}
	var bitmapPresent []uint64
	err := b.walkStored(func(e BATEntry) error {
		structure := fmt.Sprintf("BAT entry %d", e.Index)
		if e.Reserved != 0 {
			c.add("bat.reserved_bits", SeverityWarning, structure, e.Offset, "reserved bits 3-19 are %#x", e.Reserved)
		}
		size := int64(m.BlockSize)
		if e.SectorBitmap {
			size = mib
			switch e.State {
			case NotPresent:
				return nil
			case SectorBitmapPresent:
				if !m.HasParent {
					c.add("bat.sector_bitmap_not_differencing", SeverityError, structure, e.Offset, "sector bitmap of chunk %d is present in a disk without a parent", e.Block)
				}
				bitmapPresent = append(bitmapPresent, e.Block)
			default:
				c.add("bat.sector_bitmap_state", SeverityError, structure, e.Offset, "sector bitmap of chunk %d has invalid state %d", e.Block, e.State)
				return nil
			}
		} else {
			switch {
			case !e.State.valid():
				c.add("bat.invalid_state", SeverityError, structure, e.Offset, "block %d has invalid state %d", e.Block, e.State)
				return nil
			case e.State == PartiallyPresent && !m.HasParent:
				c.add("bat.partial_not_differencing", SeverityError, structure, e.Offset, "block %d is partially present in a disk without a parent", e.Block)
			case e.State == PartiallyPresent:
				partialChunks[e.Block/b.ChunkRatio] = true
			}
			if e.State != FullyPresent && e.State != PartiallyPresent {
				return nil
			}
		}
		what := fmt.Sprintf("block %d", e.Block)
		if e.SectorBitmap {
			what = fmt.Sprintf("sector bitmap of chunk %d", e.Block)
		} else if start := int64(e.Block) * size; start+size > int64(m.VirtualSize) {
			// Only the part of the last block inside the disk must be stored.
			size = int64(m.VirtualSize) - start
		}
		switch {
		case e.FileOffset < 0 || e.FileOffset > fileSize-size:
			// FileOffsetMB is 44 bits: its top values exceed int64.
			c.add("bat.beyond_eof", SeverityError, structure, e.Offset, "%s at file offset %d ends beyond the %d-byte file (truncated)", what, e.Raw>>20<<20, fileSize)
			return nil
		case e.FileOffset < headerAreaSize:
			c.add("bat.offset_invalid", SeverityError, structure, e.Offset, "%s is present at file offset %d, inside the header section", what, e.FileOffset)
			return nil
		}
		for _, r := range reserved {
			if e.FileOffset < r.end && r.off < e.FileOffset+size {
				c.add("bat.overlap_structure", SeverityError, structure, e.Offset, "%s at file offset %d overlaps the %s", what, e.FileOffset, r.name)
			}
		}
		if used.mark(e.FileOffset, size) {
			c.add("bat.overlap_block", SeverityError, structure, e.Offset, "%s at file offset %d overlaps another block", what, e.FileOffset)
		}
		return nil
	})
	if err != nil {
		c.add("bat.unreadable", SeverityError, "BAT", b.Offset, "the BAT cannot be read: %v", err)
	}
	present := map[uint64]bool{}
	for _, ch := range bitmapPresent {
		present[ch] = true
	}
	chunks := make([]uint64, 0, len(partialChunks))
	for ch := range partialChunks {
		chunks = append(chunks, ch)
	}
	sort.Slice(chunks, func(i, j int) bool { return chunks[i] < chunks[j] })
	for _, ch := range chunks {
		if !present[ch] {
			idx := b.BitmapIndex(ch)
			c.add("bat.sector_bitmap_missing", SeverityError, fmt.Sprintf("BAT entry %d", idx), b.Offset+8*int64(idx), "chunk %d has partially present blocks but no present sector bitmap", ch)
		}
	}
	if img.readErr != nil {
		c.add("disk.unreadable", SeverityError, "virtual disk", -1, "the virtual disk cannot be read: %v", img.readErr)
	}
}

// miBMap records which MiB units of the file blocks occupy: one bit per MiB,
// so a 64 TiB file needs 8 MiB.
type miBMap []uint64

func newMiBMap(fileSize int64) miBMap { return make(miBMap, (fileSize/mib+64)/64) }

// mark records [off, off+n) and reports whether any of it was already used.
func (m miBMap) mark(off, n int64) bool {
	overlap := false
	for u := off / mib; u < (off+n+mib-1)/mib; u++ {
		w, bit := u/64, uint64(1)<<(u%64)
		if int(w) >= len(m) {
			break
		}
		overlap = overlap || m[w]&bit != 0
		m[w] |= bit
	}
	return overlap
}
