package partition

import (
	"fmt"
	"io"
	"math"
)

// Bounds on what a volume group's metadata may describe.
const (
	lvmMaxVolumes  = 4096
	lvmMaxSegments = 4096
	lvmMaxStripes  = 128
)

// VolumeGroup is an LVM2 volume group as its metadata describes it.
type VolumeGroup struct {
	Name            string           `json:"name"`
	ID              string           `json:"id"`
	Seqno           int64            `json:"seqno"`
	ExtentSize      int64            `json:"extent_size"` // bytes
	PhysicalVolumes []PhysicalVolume `json:"physical_volumes"`
	LogicalVolumes  []*LogicalVolume `json:"logical_volumes"`
}

// PhysicalVolume is one PV of a volume group.
type PhysicalVolume struct {
	Name    string `json:"name"` // "pv0"
	ID      string `json:"id"`
	Device  string `json:"device"`   // the device it was last seen on
	PEStart int64  `json:"pe_start"` // bytes: where extent 0 starts
	PECount int64  `json:"pe_count"`
}

// LogicalVolume is one LV: its segments map its extents to PV extents.
type LogicalVolume struct {
	Name     string    `json:"name"`
	ID       string    `json:"id"`
	Status   []string  `json:"status"`
	Size     int64     `json:"size"` // bytes, from its segments
	Segments []Segment `json:"segments"`
}

// Segment is a run of an LV's extents stored one way.
type Segment struct {
	StartExtent int64    `json:"start_extent"`
	ExtentCount int64    `json:"extent_count"`
	Type        string   `json:"type"`        // "striped" (linear when one stripe), "thin", "raid1", ...
	StripeSize  int64    `json:"stripe_size"` // bytes, for more than one stripe
	Stripes     []Stripe `json:"stripes"`
}

// Stripe places a segment (or one stripe of it) on a PV.
type Stripe struct {
	PV          string `json:"pv"` // the PV's name in the VG
	StartExtent int64  `json:"start_extent"`
}

// parseVG parses metadata text into the volume group it describes: the
// top-level section holding physical_volumes.
func parseVG(text string) (*VolumeGroup, error) {
	root, err := parseConfig([]byte(text))
	if err != nil {
		return nil, err
	}
	var s *configSection
	for _, c := range root.sections {
		if c.section("physical_volumes") != nil {
			s = c
			break
		}
	}
	if s == nil {
		return nil, fmt.Errorf("no volume group section")
	}
	vg := &VolumeGroup{Name: s.name, ID: s.str("id"), Seqno: s.num("seqno")}
	es := s.num("extent_size")
	if es <= 0 || es > math.MaxInt64/lvmSector/math.MaxUint32 {
		return nil, fmt.Errorf("volume group %s: extent size %d sectors", vg.Name, es)
	}
	vg.ExtentSize = es * lvmSector
	for _, p := range s.section("physical_volumes").sections {
		start := p.num("pe_start")
		if start < 0 || start > math.MaxInt64/lvmSector/2 {
			return nil, fmt.Errorf("PV %s: pe_start %d", p.name, start)
		}
		vg.PhysicalVolumes = append(vg.PhysicalVolumes, PhysicalVolume{
			Name: p.name, ID: p.str("id"), Device: p.str("device"), PEStart: start * lvmSector, PECount: p.num("pe_count"),
		})
	}
	if lvs := s.section("logical_volumes"); lvs != nil {
		if len(lvs.sections) > lvmMaxVolumes {
			return nil, fmt.Errorf("%d logical volumes, more than %d", len(lvs.sections), lvmMaxVolumes)
		}
		for _, l := range lvs.sections {
			lv, err := parseLV(vg, l)
			if err != nil {
				return nil, err
			}
			vg.LogicalVolumes = append(vg.LogicalVolumes, lv)
		}
	}
	return vg, nil
}

func parseLV(vg *VolumeGroup, l *configSection) (*LogicalVolume, error) {
	lv := &LogicalVolume{Name: l.name, ID: l.str("id"), Status: l.strings("status"), Segments: []Segment{}}
	if len(l.sections) > lvmMaxSegments {
		return nil, fmt.Errorf("LV %s: more than %d segments", lv.Name, lvmMaxSegments)
	}
	// Extent counts are bounded so that every byte offset fits an int64.
	maxExtents := math.MaxInt64 / vg.ExtentSize / 2
	var extents int64
	for _, sg := range l.sections {
		seg := Segment{StartExtent: sg.num("start_extent"), ExtentCount: sg.num("extent_count"), Type: sg.str("type")}
		if seg.StartExtent < 0 || seg.ExtentCount <= 0 || seg.StartExtent > maxExtents || seg.ExtentCount > maxExtents-seg.StartExtent {
			return nil, fmt.Errorf("LV %s segment %s: extents %d+%d", lv.Name, sg.name, seg.StartExtent, seg.ExtentCount)
		}
		if ss := sg.num("stripe_size"); ss > 0 && ss <= math.MaxInt32 {
			seg.StripeSize = ss * lvmSector
		}
		list := sg.values["stripes"].list
		if len(list)/2 > lvmMaxStripes {
			return nil, fmt.Errorf("LV %s segment %s: more than %d stripes", lv.Name, sg.name, lvmMaxStripes)
		}
		for i := 0; i+1 < len(list); i += 2 {
			st := Stripe{PV: list[i].str, StartExtent: list[i+1].num}
			if st.StartExtent < 0 || st.StartExtent > maxExtents {
				return nil, fmt.Errorf("LV %s segment %s: stripe at extent %d", lv.Name, sg.name, st.StartExtent)
			}
			seg.Stripes = append(seg.Stripes, st)
		}
		lv.Segments = append(lv.Segments, seg)
		extents = max(extents, seg.StartExtent+seg.ExtentCount)
	}
	lv.Size = extents * vg.ExtentSize
	return lv, nil
}

// LVExtent maps a run of a logical volume to its bytes on this PV: a
// linear run, or one stripe of a striped segment (Stripes > 1), whose
// chunks of StripeSize bytes alternate with the other stripes' in the LV.
type LVExtent struct {
	LVOffset   int64 `json:"lv_offset"`
	Length     int64 `json:"length"` // of the LV's bytes in the run (all stripes)
	PVOffset   int64 `json:"pv_offset"`
	Stripe     int   `json:"stripe"` // index of this stripe
	Stripes    int   `json:"stripes"`
	StripeSize int64 `json:"stripe_size"`
}

// Extents maps lv to this PV. It fails with ErrUnsupported when a segment
// is not striped or linear (thin, RAID, snapshot, ...) or lies on another
// PV, and with ErrCorrupt when it names extents the PV does not have.
func (l *LVM) Extents(lv *LogicalVolume) ([]LVExtent, error) {
	vg := l.VG
	var pv *PhysicalVolume
	for i := range vg.PhysicalVolumes {
		if vg.PhysicalVolumes[i].Name == l.PVName {
			pv = &vg.PhysicalVolumes[i]
		}
	}
	structure := "LV " + lv.Name
	if pv == nil {
		return nil, formatErr(ErrCorrupt, structure, -1, "the volume group does not list this PV")
	}
	var out []LVExtent
	for _, seg := range lv.Segments {
		n := len(seg.Stripes)
		switch {
		case seg.Type != "striped" || n == 0:
			return nil, formatErr(ErrUnsupported, structure, -1, "a %q segment with %d stripes", seg.Type, n)
		case seg.ExtentCount%int64(n) != 0 || (n > 1 && seg.StripeSize <= 0):
			return nil, formatErr(ErrCorrupt, structure, -1, "%d extents in %d stripes of %d bytes", seg.ExtentCount, n, seg.StripeSize)
		}
		per := seg.ExtentCount / int64(n)
		for i, st := range seg.Stripes {
			if st.PV != l.PVName {
				return nil, formatErr(ErrUnsupported, structure, -1, "a segment on %s, another PV", st.PV)
			}
			if st.StartExtent+per > pv.PECount {
				return nil, formatErr(ErrCorrupt, structure, -1, "extents %d+%d of %s, which has %d", st.StartExtent, per, st.PV, pv.PECount)
			}
			out = append(out, LVExtent{
				LVOffset: seg.StartExtent * vg.ExtentSize, Length: seg.ExtentCount * vg.ExtentSize,
				PVOffset: pv.PEStart + st.StartExtent*vg.ExtentSize, Stripe: i, Stripes: n, StripeSize: seg.StripeSize,
			})
		}
	}
	return out, nil
}

// LVReader reads a logical volume's bytes from its PV.
type LVReader struct {
	pv      io.ReaderAt
	extents []LVExtent
	size    int64
}

// Open returns a reader of lv's bytes on pv, the reader of this PV.
func (l *LVM) Open(pv io.ReaderAt, lv *LogicalVolume) (*LVReader, error) {
	ext, err := l.Extents(lv)
	if err != nil {
		return nil, err
	}
	return &LVReader{pv: pv, extents: ext, size: lv.Size}, nil
}

// Size returns the size of the logical volume.
func (r *LVReader) Size() int64 { return r.size }

// ReadAt reads len(p) bytes of the LV at off. Bytes no segment maps read
// as zeros.
func (r *LVReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("partition: LV read at negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		chunk := min(int64(len(p)-n), r.size-pos)
		pvOff, run, ok := r.locate(pos)
		if !ok {
			clear(p[n : n+int(chunk)])
			n += int(chunk)
			continue
		}
		chunk = min(chunk, run)
		m, err := r.pv.ReadAt(p[n:n+int(chunk)], pvOff)
		n += m
		if err != nil && !(err == io.EOF && int64(m) == chunk) {
			return n, err
		}
	}
	return n, nil
}

// locate finds where byte pos of the LV lies on the PV and how many bytes
// follow it contiguously.
func (r *LVReader) locate(pos int64) (pvOff, run int64, ok bool) {
	for _, e := range r.extents {
		if pos < e.LVOffset || pos-e.LVOffset >= e.Length {
			continue
		}
		rel := pos - e.LVOffset
		if e.Stripes == 1 {
			return e.PVOffset + rel, e.Length - rel, true
		}
		chunk := rel / e.StripeSize
		if int(chunk%int64(e.Stripes)) != e.Stripe {
			continue
		}
		within := rel % e.StripeSize
		return e.PVOffset + chunk/int64(e.Stripes)*e.StripeSize + within, min(e.StripeSize-within, e.Length-rel), true
	}
	return 0, 0, false
}
