package partition

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

type fieldList []vdisk.Field

func (l *fieldList) add(structure string, off, n int64, name string, format string, args ...any) {
	*l = append(*l, vdisk.Field{Offset: off, Length: n, Structure: structure, Name: name, Value: fmt.Sprintf(format, args...)})
}

// Fields names the bytes of every structure of the table, at disk offsets,
// sorted by offset: the MBR and its entries, each EBR, both GPT headers
// and each non-empty GPT entry.
func (t *Table) Fields() []vdisk.Field {
	var l fieldList
	if t.MBR != nil {
		name := "MBR"
		if t.Scheme == SchemeGPT {
			name = "protective MBR"
		}
		l.bootRecord(name, t.MBR, true)
	}
	for _, e := range t.EBRs {
		l.bootRecord(fmt.Sprintf("EBR at sector %d", e.Offset/int64(t.SectorSize)), e, false)
	}
	if g := t.GPT; g != nil {
		if g.Primary != nil {
			l.gptHeader("primary GPT header", g.Primary)
		}
		if g.Backup != nil {
			l.gptHeader("backup GPT header", g.Backup)
		}
		for _, e := range g.Entries {
			s := fmt.Sprintf("GPT entry %d", e.Index+1)
			l.add(s, e.Offset, 16, "type GUID", "%s (%s)", e.TypeGUID, gptTypeName(e.TypeGUID))
			l.add(s, e.Offset+16, 16, "unique GUID", "%s", e.UniqueGUID)
			l.add(s, e.Offset+32, 8, "first LBA", "%d", e.FirstLBA)
			l.add(s, e.Offset+40, 8, "last LBA", "%d", e.LastLBA)
			l.add(s, e.Offset+48, 8, "attributes", "0x%016x %s", e.Attributes, strings.Join(gptAttributeNames(e.Attributes), " "))
			l.add(s, e.Offset+56, 72, "name", "%q", e.Name)
		}
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].Offset < l[j].Offset })
	return l
}

func (l *fieldList) bootRecord(s string, b *BootRecord, mbr bool) {
	if mbr {
		l.add(s, b.Offset+mbrDiskSigOffset, 4, "disk signature", "0x%08x", b.DiskSignature)
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		es := fmt.Sprintf("%s entry %d", s, i+1)
		l.add(es, e.Offset, 1, "status", "0x%02x (bootable=%t)", e.Status, e.Status == 0x80)
		l.add(es, e.Offset+1, 3, "first CHS", "%s", chs(e.CHSFirst))
		l.add(es, e.Offset+4, 1, "type", "0x%02x (%s)", e.Type, mbrTypeName(e.Type))
		l.add(es, e.Offset+5, 3, "last CHS", "%s", chs(e.CHSLast))
		l.add(es, e.Offset+8, 4, "first LBA", "%d", e.FirstLBA)
		l.add(es, e.Offset+12, 4, "sectors", "%d", e.Sectors)
	}
	l.add(s, b.Offset+mbrSignatureOff, 2, "signature", "%02x %02x", byte(b.Signature), byte(b.Signature>>8))
}

// chs decodes a cylinder-head-sector address: head, then sector in the
// low 6 bits with the cylinder's bits 8-9 above, then the cylinder's low
// byte.
func chs(c [3]byte) string {
	cyl := int(c[2]) | int(c[1]&0xc0)<<2
	return fmt.Sprintf("C %d H %d S %d (% x)", cyl, c[0], c[1]&0x3f, c[:])
}

func (l *fieldList) gptHeader(s string, h *GPTHeader) {
	o := h.Offset
	l.add(s, o, 8, "signature", "%q", h.Signature)
	l.add(s, o+8, 4, "revision", "0x%08x", h.Revision)
	l.add(s, o+12, 4, "header size", "%d", h.HeaderSize)
	l.add(s, o+16, 4, "header CRC32", "0x%08x (computed 0x%08x)", h.HeaderCRC, h.ComputedHeaderCRC)
	l.add(s, o+24, 8, "my LBA", "%d", h.MyLBA)
	l.add(s, o+32, 8, "alternate LBA", "%d", h.AlternateLBA)
	l.add(s, o+40, 8, "first usable LBA", "%d", h.FirstUsableLBA)
	l.add(s, o+48, 8, "last usable LBA", "%d", h.LastUsableLBA)
	l.add(s, o+56, 16, "disk GUID", "%s", h.DiskGUID)
	l.add(s, o+72, 8, "entries LBA", "%d", h.EntriesLBA)
	l.add(s, o+80, 4, "entry count", "%d", h.EntryCount)
	l.add(s, o+84, 4, "entry size", "%d", h.EntrySize)
	l.add(s, o+88, 4, "entries CRC32", "0x%08x (computed 0x%08x)", h.EntriesCRC, h.ComputedEntriesCRC)
}

// Fields names the bytes of the PV's label, PV header and metadata area
// headers, at offsets from the start of the physical volume, sorted by
// offset.
func (l *LVM) Fields() []vdisk.Field {
	var f fieldList
	lb := &l.Label
	const s = "LVM2 label"
	f.add(s, lb.Offset, 8, "signature", "%q", lvmLabelID)
	f.add(s, lb.Offset+8, 8, "sector", "%d", lb.Sector)
	f.add(s, lb.Offset+16, 4, "CRC", "0x%08x (computed 0x%08x)", lb.CRC, lb.ComputedCRC)
	f.add(s, lb.Offset+20, 4, "PV header offset", "%d", lb.HeaderOffset)
	f.add(s, lb.Offset+24, 8, "type", "%q", lb.Type)
	const h = "LVM2 PV header"
	o := l.PV.Offset
	f.add(h, o, 32, "PV UUID", "%s", l.PV.UUID)
	f.add(h, o+32, 8, "device size", "%d", l.PV.DeviceSize)
	o += 40
	for _, list := range []struct {
		name  string
		areas []DiskArea
	}{{"data area", l.PV.DataAreas}, {"metadata area", l.PV.MetadataAreas}} {
		for i, a := range list.areas {
			f.add(h, o, 16, fmt.Sprintf("%s %d", list.name, i+1), "%d bytes at %d", a.Size, a.Offset)
			o += 16
		}
		o += 16 // the zero entry ending the list
	}
	for i, m := range l.Metadata {
		s := fmt.Sprintf("LVM2 metadata area %d header", i+1)
		if m.Magic == "" {
			continue // never read: the area lies outside the PV
		}
		f.add(s, m.Offset, 4, "checksum", "0x%08x (computed 0x%08x)", m.Checksum, m.ComputedChecksum)
		f.add(s, m.Offset+4, 16, "magic", "%q", m.Magic)
		f.add(s, m.Offset+20, 4, "version", "%d", m.Version)
		f.add(s, m.Offset+24, 8, "start", "%d", m.Start)
		f.add(s, m.Offset+32, 8, "size", "%d", m.Size)
		f.add(s, m.Offset+40, 8, "text offset", "%d", m.TextOffset)
		f.add(s, m.Offset+48, 8, "text size", "%d", m.TextSize)
		f.add(s, m.Offset+56, 4, "text checksum", "0x%08x (computed 0x%08x)", m.TextChecksum, m.ComputedTextSum)
	}
	sort.SliceStable(f, func(i, j int) bool { return f[i].Offset < f[j].Offset })
	return f
}
