package filesystem

import (
	"fmt"
	"strings"
)

// ISO 9660: volume descriptors of 2048 bytes from sector 16, ending with a
// terminator (type 255).
const (
	isoSector      = 2048
	isoFirstVD     = 16
	isoMaxVDs      = 64 // bound on the descriptors read
	isoTypePrimary = 1
	isoTypeSupp    = 2
	isoTypeEnd     = 255
)

func probeISO9660(p *prober) (*Info, error) {
	var info *Info
	for i := int64(0); i < isoMaxVDs; i++ {
		off := (isoFirstVD + i) * isoSector
		vd, err := p.read("ISO 9660 volume descriptor", off, isoSector)
		if err != nil {
			return info, ignoreOutside(err)
		}
		if string(vd[1:6]) != "CD001" {
			return info, nil
		}
		switch vd[0] {
		case isoTypePrimary:
			if info == nil {
				info = isoPrimary(p, vd, off)
			}
		case isoTypeSupp:
			if info != nil && isJoliet(vd) {
				// blkid prefers the Joliet name, which keeps case and length.
				if l := strings.TrimRight(utf16String(vd[40:72], true), " "); l != "" {
					info.Label = l
				}
				p.add("ISO 9660 Joliet descriptor", off+40, 32, "volume identifier", "%q", info.Label)
			}
		case isoTypeEnd:
			return info, nil
		}
	}
	return info, nil
}

func isoPrimary(p *prober, vd []byte, off int64) *Info {
	blocks := int64(le32(vd, 80))
	bs := int64(le16(vd, 128))
	if !isPow2(bs, 512, 2048*16) {
		bs = isoSector
	}
	info := &Info{
		Type:      TypeISO9660,
		Label:     strings.TrimRight(string(vd[40:72]), " "),
		UUID:      isoDateUUID(vd[813:830]),
		Size:      blocks * bs,
		BlockSize: bs,
		Used:      blocks * bs,
		Version:   fmt.Sprint(vd[6]),
	}
	const s = "ISO 9660 primary descriptor"
	p.add(s, off, 1, "type", "%d", vd[0])
	p.add(s, off+1, 5, "identifier", "%q", vd[1:6])
	p.add(s, off+6, 1, "version", "%d", vd[6])
	p.add(s, off+8, 32, "system identifier", "%q", strings.TrimRight(string(vd[8:40]), " "))
	p.add(s, off+40, 32, "volume identifier", "%q", strings.TrimRight(string(vd[40:72]), " "))
	p.add(s, off+80, 8, "volume space size", "%d", blocks)
	p.add(s, off+128, 4, "logical block size", "%d", le16(vd, 128))
	p.add(s, off+190, 128, "volume set identifier", "%q", strings.TrimRight(string(vd[190:318]), " "))
	p.add(s, off+318, 128, "publisher identifier", "%q", strings.TrimRight(string(vd[318:446]), " "))
	p.add(s, off+574, 128, "application identifier", "%q", strings.TrimRight(string(vd[574:702]), " "))
	p.add(s, off+813, 17, "creation date", "%q", vd[813:829])
	p.add(s, off+830, 17, "modification date", "%q", vd[830:846])
	return info
}

// isJoliet reports whether a supplementary descriptor is Joliet's (its
// escape sequence names UCS-2 level 1, 2 or 3).
func isJoliet(vd []byte) bool {
	e := string(vd[88:91])
	return e == "%/@" || e == "%/C" || e == "%/E"
}

// isoDateUUID formats a volume date (16 digits and a time zone) as blkid
// does for the UUID of an ISO 9660 volume: YYYY-MM-DD-HH-MM-SS-CC. An
// unset date gives "".
func isoDateUUID(d []byte) string {
	digits := string(d[:16])
	if strings.Trim(digits, "0") == "" || strings.Trim(digits, "0123456789") != "" {
		return ""
	}
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s-%s", digits[0:4], digits[4:6], digits[6:8], digits[8:10], digits[10:12], digits[12:14], digits[14:16])
}
