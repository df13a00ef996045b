package vhdx

import (
	"fmt"
	"sort"
)

// Field names the bytes of one field of a structure, for annotating a hex
// view of the file.
type Field struct {
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Structure string `json:"structure"`
	Name      string `json:"field"`
	Value     string `json:"value"`
}

type fieldList []Field

func (l *fieldList) add(structure string, off, n int64, name string, format string, args ...any) {
	*l = append(*l, Field{Offset: off, Length: n, Structure: structure, Name: name, Value: fmt.Sprintf(format, args...)})
}

// Fields lists every field of the structures found in the file, sorted by
// offset: identifier, headers, region tables, metadata table, entries and
// known items, parent locator, and log entries with their descriptors and
// data sectors. BAT entries are not listed (entry i is at BAT.Offset+8*i).
func (img *Image) Fields() []Field {
	var l fieldList
	if id := img.Identifier; id != nil {
		l.add("file type identifier", 0, 8, "signature", "%q", id.Signature)
		l.add("file type identifier", 8, 512, "creator", "%q", id.Creator)
	}
	for i, h := range img.Headers {
		if h != nil && h.Signature != "" {
			l.header(fmt.Sprintf("header %d", i+1), h)
		}
	}
	for i, t := range img.RegionTables {
		if t != nil && t.Signature != "" {
			l.regionTable(fmt.Sprintf("region table %d", i+1), t)
		}
	}
	if m := img.Metadata; m != nil && m.Signature != "" {
		l.metadata(m)
	}
	if img.Log != nil {
		for i, e := range img.Log.Entries {
			l.logEntry(i, e)
		}
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].Offset < l[j].Offset })
	return l
}

func (l *fieldList) header(s string, h *Header) {
	o := h.Offset
	l.add(s, o, 4, "signature", "%q", h.Signature)
	l.add(s, o+4, 4, "checksum", "%#08x (computed %#08x)", h.Checksum, h.ComputedChecksum)
	l.add(s, o+8, 8, "sequence number", "%d", h.SequenceNumber)
	l.add(s, o+16, 16, "file write GUID", "%s", h.FileWriteGUID)
	l.add(s, o+32, 16, "data write GUID", "%s", h.DataWriteGUID)
	l.add(s, o+48, 16, "log GUID", "%s", h.LogGUID)
	l.add(s, o+64, 2, "log version", "%d", h.LogVersion)
	l.add(s, o+66, 2, "version", "%d", h.Version)
	l.add(s, o+68, 4, "log length", "%d", h.LogLength)
	l.add(s, o+72, 8, "log offset", "%#x", h.LogOffset)
}

func (l *fieldList) regionTable(s string, t *RegionTable) {
	o := t.Offset
	l.add(s, o, 4, "signature", "%q", t.Signature)
	l.add(s, o+4, 4, "checksum", "%#08x (computed %#08x)", t.Checksum, t.ComputedChecksum)
	l.add(s, o+8, 4, "entry count", "%d", t.EntryCount)
	l.add(s, o+12, 4, "reserved", "%#x", t.Reserved)
	for i, e := range t.Entries {
		es := fmt.Sprintf("%s entry %d (%s)", s, i, e.Name)
		l.add(es, e.Offset, 16, "GUID", "%s", e.GUID)
		l.add(es, e.Offset+16, 8, "file offset", "%#x", e.FileOffset)
		l.add(es, e.Offset+24, 4, "length", "%d", e.Length)
		l.add(es, e.Offset+28, 4, "flags", "%#x (required=%t)", e.Flags, e.Required)
	}
}

func (l *fieldList) metadata(m *Metadata) {
	const s = "metadata table"
	l.add(s, m.Offset, 8, "signature", "%q", m.Signature)
	l.add(s, m.Offset+10, 2, "entry count", "%d", m.EntryCount)
	for i, e := range m.Entries {
		es := "metadata entry (" + e.Name + ")"
		l.add(es, e.Offset, 16, "item ID", "%s", e.ItemID)
		l.add(es, e.Offset+16, 4, "offset", "%d", e.ItemOffset)
		l.add(es, e.Offset+20, 4, "length", "%d", e.ItemLength)
		l.add(es, e.Offset+24, 4, "flags", "%#x (user=%t virtual_disk=%t required=%t)", e.Flags, e.IsUser, e.IsVirtualDisk, e.IsRequired)
		if m.entry(e.ItemID) != &m.Entries[i] {
			continue // a duplicate: only the first copy is decoded
		}
		is := e.Name + " item"
		switch e.ItemID {
		case ItemFileParameters:
			l.add(is, e.FileOffset, 4, "block size", "%d", m.BlockSize)
			l.add(is, e.FileOffset+4, 4, "flags", "leave_blocks_allocated=%t has_parent=%t", m.LeaveBlocksAllocated, m.HasParent)
		case ItemVirtualDiskSize:
			l.add(is, e.FileOffset, 8, "virtual disk size", "%d", m.VirtualSize)
		case ItemPage83Data:
			l.add(is, e.FileOffset, 16, "page 83 data", "%s", m.Page83)
		case ItemLogicalSectorSize:
			l.add(is, e.FileOffset, 4, "logical sector size", "%d", m.LogicalSectorSize)
		case ItemPhysicalSectorSize:
			l.add(is, e.FileOffset, 4, "physical sector size", "%d", m.PhysicalSectorSize)
		case ItemParentLocator:
			if p := m.ParentLocator; p != nil {
				l.parentLocator(p)
			}
		}
	}
}

func (l *fieldList) parentLocator(p *ParentLocator) {
	const s = "parent locator"
	l.add(s, p.Offset, 16, "locator type", "%s", p.LocatorType)
	l.add(s, p.Offset+18, 2, "key/value count", "%d", p.KeyValueCount)
	for _, kv := range p.Entries {
		es := "parent locator entry " + kv.Key
		l.add(es, kv.Offset, 4, "key offset", "%d", kv.KeyOffset-p.Offset)
		l.add(es, kv.Offset+4, 4, "value offset", "%d", kv.ValueOffset-p.Offset)
		l.add(es, kv.Offset+8, 2, "key length", "%d", kv.KeyLength)
		l.add(es, kv.Offset+10, 2, "value length", "%d", kv.ValueLength)
		l.add(es, kv.KeyOffset, int64(kv.KeyLength), "key", "%q", kv.Key)
		l.add(es, kv.ValueOffset, int64(kv.ValueLength), "value", "%q", kv.Value)
	}
}

func (l *fieldList) logEntry(i int, e *LogEntry) {
	s := LogEntryName(i)
	o := e.Offset
	l.add(s, o, 4, "signature", "%q", e.Signature)
	l.add(s, o+4, 4, "checksum", "%#08x (computed %#08x)", e.Checksum, e.ComputedChecksum)
	l.add(s, o+8, 4, "entry length", "%d", e.EntryLength)
	l.add(s, o+12, 4, "tail", "%#x", e.Tail)
	l.add(s, o+16, 8, "sequence number", "%d", e.SequenceNumber)
	l.add(s, o+24, 4, "descriptor count", "%d", e.DescriptorCount)
	l.add(s, o+32, 16, "log GUID", "%s", e.LogGUID)
	l.add(s, o+48, 8, "flushed file offset", "%#x", e.FlushedFileOffset)
	l.add(s, o+56, 8, "last file offset", "%#x", e.LastFileOffset)
	for i, d := range e.Descriptors {
		ds := fmt.Sprintf("%s descriptor %d (%s)", s, i, d.Signature)
		l.add(ds, d.Offset, 4, "signature", "%q", d.Signature)
		if d.Signature == "zero" {
			l.add(ds, d.Offset+8, 8, "zero length", "%d", d.Length)
		} else {
			l.add(ds, d.Offset+4, 4, "trailing bytes", "%#08x", d.TrailingBytes)
			l.add(ds, d.Offset+8, 8, "leading bytes", "%#016x", d.LeadingBytes)
		}
		l.add(ds, d.Offset+16, 8, "file offset", "%#x", d.TargetOffset)
		l.add(ds, d.Offset+24, 8, "sequence number", "%d", d.SequenceNumber)
		if d.DataOffset != 0 {
			dd := fmt.Sprintf("%s data sector %d", s, i)
			l.add(dd, d.DataOffset, 4, "signature", "\"data\"")
			l.add(dd, d.DataOffset+4, 4, "sequence high", "%d", d.SequenceNumber>>32)
			l.add(dd, d.DataOffset+8, dataSectorBytes, "data", "bytes 8..4092 of the sector at %#x", d.TargetOffset)
			l.add(dd, d.DataOffset+4092, 4, "sequence low", "%d", uint32(d.SequenceNumber))
		}
	}
}
