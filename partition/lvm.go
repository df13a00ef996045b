package partition

import (
	"fmt"
	"hash/crc32"
	"io"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
)

// LVM2 on-disk format: a label in one of the first four 512-byte sectors,
// the PV header after it listing data and metadata areas, and in each
// metadata area a header locating the current copy of the volume group
// metadata text in a circular buffer.
const (
	lvmSector        = 512
	lvmLabelID       = "LABELONE"
	lvmLabelType     = "LVM2 001"
	lvmMDAMagic      = " LVM2 x[5A%r0N*>"
	lvmMDAHeaderSize = 512
	lvmInitialCRC    = 0xf597a6cf
	// lvmMaxAreas bounds each list of disk areas in the PV header.
	lvmMaxAreas = 8
	// lvmMaxText bounds the metadata text read (LVM's default area is 1 MiB).
	lvmMaxText = 4 << 20
)

// LVM is what ReadLVM finds on an LVM2 physical volume.
type LVM struct {
	Label    LVMLabel        `json:"label"`
	PV       PVHeader        `json:"pv_header"`
	Metadata []*LVMMetadata  `json:"metadata_areas"`
	VG       *VolumeGroup    `json:"volume_group"` // from the first valid metadata copy; nil if none
	Findings []vdisk.Finding `json:"findings"`
	// PVName is this PV's name in the volume group ("pv0"), "" if the
	// metadata does not list its UUID.
	PVName string `json:"pv_name"`
}

// LVMLabel is the label header.
type LVMLabel struct {
	Offset       int64  `json:"offset"`
	Sector       uint64 `json:"sector"`
	CRC          uint32 `json:"crc"`
	ComputedCRC  uint32 `json:"computed_crc"`
	HeaderOffset uint32 `json:"header_offset"` // of the PV header, from the label
	Type         string `json:"type"`
}

// PVHeader is the physical volume header.
type PVHeader struct {
	Offset        int64      `json:"offset"`
	UUID          string     `json:"uuid"` // with dashes, as LVM prints it
	DeviceSize    uint64     `json:"device_size"`
	DataAreas     []DiskArea `json:"data_areas"`
	MetadataAreas []DiskArea `json:"metadata_areas"`
}

// DiskArea is a range of the PV, in bytes; Size 0 means "to the end".
type DiskArea struct {
	Offset uint64 `json:"offset"`
	Size   uint64 `json:"size"`
}

// LVMMetadata is a metadata area header and the text it points to.
type LVMMetadata struct {
	Offset           int64  `json:"offset"` // of the header
	Checksum         uint32 `json:"checksum"`
	ComputedChecksum uint32 `json:"computed_checksum"`
	Magic            string `json:"magic"`
	Version          uint32 `json:"version"`
	Start            uint64 `json:"start"`
	Size             uint64 `json:"size"`
	// TextOffset and TextSize locate the current metadata text (relative
	// to Start; the text may wrap to just after the header).
	TextOffset      uint64 `json:"text_offset"`
	TextSize        uint64 `json:"text_size"`
	TextChecksum    uint32 `json:"text_checksum"`
	ComputedTextSum uint32 `json:"computed_text_checksum"`
	Text            string `json:"-"`
	// Problem says why the area is not used, "" when it is valid.
	Problem string `json:"problem,omitempty"`
}

// lvmCRC is LVM's checksum: CRC-32 (IEEE) from LVM's initial value,
// without the final inversion.
func lvmCRC(b []byte) uint32 {
	return ^crc32.Update(^uint32(lvmInitialCRC), crc32.IEEETable, b)
}

// ReadLVM reads the LVM2 physical volume in r (size bytes): its label, PV
// header, metadata areas and the volume group the first valid metadata
// copy describes. It returns an error wrapping ErrNotLVM when there is no
// label, and other problems as findings.
func ReadLVM(r io.ReaderAt, size int64) (*LVM, error) {
	d := &disk{r: r, size: size, sector: lvmSector, t: &Table{}}
	l := &LVM{}
	var sec []byte
	for s := int64(0); s < 4; s++ {
		b, err := d.read("LVM2 label", s*lvmSector, lvmSector)
		if err != nil {
			return nil, err
		}
		if b != nil && string(b[0:8]) == lvmLabelID {
			sec, l.Label.Offset = b, s*lvmSector
			break
		}
	}
	if sec == nil {
		return nil, formatErr(ErrNotLVM, "LVM2 label", 0, "no %s in the first four sectors", lvmLabelID)
	}
	lb := &l.Label
	lb.Sector, lb.CRC, lb.HeaderOffset, lb.Type = le64(sec, 8), le32(sec, 16), le32(sec, 20), string(sec[24:32])
	lb.ComputedCRC = lvmCRC(sec[20:])
	if lb.CRC != lb.ComputedCRC {
		d.add("lvm.label_crc", vdisk.SeverityError, "LVM2 label", lb.Offset+16, "label CRC 0x%08x, computed 0x%08x", lb.CRC, lb.ComputedCRC)
	}
	if lb.Type != lvmLabelType || lb.HeaderOffset < 32 || lb.HeaderOffset > lvmSector-40 {
		return nil, formatErr(ErrUnsupported, "LVM2 label", lb.Offset, "type %q with the PV header at %d", lb.Type, lb.HeaderOffset)
	}
	l.readPVHeader(lb.Offset+int64(lb.HeaderOffset), sec[lb.HeaderOffset:])
	for i, a := range l.PV.MetadataAreas {
		m, err := d.readMDA(a, i)
		if err != nil {
			return nil, err
		}
		l.Metadata = append(l.Metadata, m)
	}
	for _, m := range l.Metadata {
		if m.Problem != "" {
			d.add("lvm.metadata", vdisk.SeverityError, "LVM2 metadata area", m.Offset, "%s", m.Problem)
			continue
		}
		if l.VG != nil {
			continue
		}
		vg, err := parseVG(m.Text)
		if err != nil {
			d.add("lvm.metadata_text", vdisk.SeverityError, "LVM2 metadata text", int64(m.Start+m.TextOffset), "%v", err)
			continue
		}
		l.VG = vg
	}
	if len(l.Metadata) == 0 {
		d.add("lvm.no_metadata", vdisk.SeverityInfo, "LVM2 PV header", l.PV.Offset, "the PV has no metadata area; its volume group is described on another PV")
	}
	if l.VG != nil {
		for _, pv := range l.VG.PhysicalVolumes {
			if pv.ID == l.PV.UUID {
				l.PVName = pv.Name
			}
		}
		if l.PVName == "" {
			d.add("lvm.pv_not_in_vg", vdisk.SeverityError, "LVM2 metadata text", -1, "the volume group %s does not list this PV (%s)", l.VG.Name, l.PV.UUID)
		}
	}
	l.Findings = d.t.Findings
	if l.Findings == nil {
		l.Findings = []vdisk.Finding{}
	}
	return l, nil
}

// readPVHeader decodes the PV header h at disk offset off: the UUID, the
// device size and the two lists of areas, each ended by a zero entry.
func (l *LVM) readPVHeader(off int64, h []byte) {
	l.PV.Offset = off
	l.PV.UUID = filesystem.LVMUUID(string(h[0:32]))
	l.PV.DeviceSize = le64(h, 32)
	pos := 40
	for list := 0; list < 2; list++ {
		for n := 0; pos+16 <= len(h); n++ {
			a := DiskArea{Offset: le64(h, pos), Size: le64(h, pos+8)}
			pos += 16
			if a.Offset == 0 && a.Size == 0 {
				break
			}
			if n >= lvmMaxAreas {
				continue
			}
			if list == 0 {
				l.PV.DataAreas = append(l.PV.DataAreas, a)
			} else {
				l.PV.MetadataAreas = append(l.PV.MetadataAreas, a)
			}
		}
	}
}

// readMDA reads metadata area a: its header and the current text.
func (d *disk) readMDA(a DiskArea, i int) (*LVMMetadata, error) {
	m := &LVMMetadata{Offset: int64(min(a.Offset, 1<<62))}
	if a.Offset > uint64(d.size) || a.Size < lvmMDAHeaderSize || a.Size > uint64(d.size)-a.Offset {
		m.Problem = fmt.Sprintf("metadata area %d (%d bytes at %d) does not fit the PV", i+1, a.Size, a.Offset)
		return m, nil
	}
	h, err := d.read("LVM2 metadata area header", m.Offset, lvmMDAHeaderSize)
	if err != nil {
		return nil, err
	}
	m.Checksum, m.Magic, m.Version = le32(h, 0), string(h[4:20]), le32(h, 20)
	m.Start, m.Size = le64(h, 24), le64(h, 32)
	m.ComputedChecksum = lvmCRC(h[4:])
	m.TextOffset, m.TextSize, m.TextChecksum = le64(h, 40), le64(h, 48), le32(h, 56)
	switch {
	case m.Magic != lvmMDAMagic:
		m.Problem = fmt.Sprintf("metadata area header magic %q", m.Magic)
	case m.Checksum != m.ComputedChecksum:
		m.Problem = fmt.Sprintf("metadata area header checksum 0x%08x, computed 0x%08x", m.Checksum, m.ComputedChecksum)
	case m.Start != a.Offset || m.Size != a.Size:
		m.Problem = fmt.Sprintf("the header describes %d bytes at %d, the PV header %d at %d", m.Size, m.Start, a.Size, a.Offset)
	case m.TextSize == 0:
		m.Problem = "no metadata text"
	case m.TextSize > lvmMaxText || m.TextSize > m.Size-lvmMDAHeaderSize || m.TextOffset < lvmMDAHeaderSize || m.TextOffset >= m.Size:
		m.Problem = fmt.Sprintf("metadata text of %d bytes at %d does not fit the %d-byte area", m.TextSize, m.TextOffset, m.Size)
	}
	if m.Problem != "" {
		return m, nil
	}
	// The text is in a circular buffer after the header: what does not fit
	// before the end of the area continues just after the header.
	first := min(m.TextSize, m.Size-m.TextOffset)
	text, err := d.read("LVM2 metadata text", int64(m.Start+m.TextOffset), int64(first))
	if err != nil {
		return nil, err
	}
	if rest := m.TextSize - first; rest > 0 {
		more, err := d.read("LVM2 metadata text", int64(m.Start+lvmMDAHeaderSize), int64(rest))
		if err != nil {
			return nil, err
		}
		text = append(text, more...)
	}
	m.ComputedTextSum = lvmCRC(text)
	if m.ComputedTextSum != m.TextChecksum {
		m.Problem = fmt.Sprintf("metadata text checksum 0x%08x, computed 0x%08x", m.TextChecksum, m.ComputedTextSum)
	}
	m.Text = string(text)
	return m, nil
}
