// Package hostile crafts worst-case disk images for tests: the inputs an
// attacker would hand a reader (logs that claim more than they hold, tables
// that claim terabytes, offsets near 2^64, structures pointing into each
// other, control characters in strings), as found in issue 10. The Go
// tests of vhdx, qcow2 and cmd/vhdx use them; hostilegen writes them to a
// folder for the browser tests.
package hostile

import (
	"encoding/binary"
	"io"
	"os"

	"github.com/google/uuid"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	tib = 1 << 40
)

// ControlText holds what a string from a file must never pass to a
// terminal or a page raw: an OSC title sequence ended by BEL, a screen
// clear, a newline that starts a fake line and a right-to-left override.
const ControlText = "x\x1b]0;pwned\a\x1b[2J\nfake: line\u202e"

// A VHDX is one crafted VHDX image: a builder model and an edit of the
// serialised file for what the model cannot express.
type VHDX struct {
	Name  string // file name, with its extension
	Image *vb.Image
	// Patch, when not nil, edits the file after Image is written.
	Patch func(w io.WriterAt, im *vb.Image) error
}

// WriteFile writes the image to a new sparse file at path, cut to
// Image.Size(), then applies Patch to it.
func (h VHDX) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := h.Image.WriteSparse(f); err != nil {
		return err
	}
	if err := f.Truncate(h.Image.Size()); err != nil {
		return err
	}
	if h.Patch != nil {
		if err := h.Patch(f, h.Image); err != nil {
			return err
		}
	}
	return f.Close()
}

// FloodLog writes, in each of the first sectors 4 KiB sectors of im's log,
// an entry header claiming claim bytes (sequence 1, im's default log GUID),
// so that every sector starts an entry the scan must try.
func FloodLog(w io.WriterAt, im *vb.Image, claim uint32, sectors int) error {
	var s [vb.LogSectorSize]byte
	copy(s[:], "loge")
	binary.LittleEndian.PutUint32(s[8:], claim)
	binary.LittleEndian.PutUint64(s[16:], 1)
	vb.PutGUID(s[32:], vb.DefaultLogGUID)
	for i := range sectors {
		if _, err := w.WriteAt(s[:], int64(im.LogOffset)+int64(i)*vb.LogSectorSize); err != nil {
			return err
		}
	}
	return nil
}

// withLog returns an image with a logSize-byte log that both headers ask
// to replay (their log GUID is set).
func withLog(logSize uint32) *vb.Image {
	im := vb.New(vb.Options{LogSize: logSize})
	im.Headers[0].LogGUID, im.Headers[1].LogGUID = vb.DefaultLogGUID, vb.DefaultLogGUID
	return im
}

// VHDXImages returns the crafted VHDX worst cases, one per structure and
// per defect of issue 10: each must open, check, map and read within a
// bounded time and memory, or be refused with a named error.
func VHDXImages() []VHDX {
	var out []VHDX

	// Log: every sector of a 64 MiB log starts an entry claiming all of it
	// (the scan was quadratic).
	out = append(out, VHDX{"log_flood.vhdx", withLog(64 * mib), func(w io.WriterAt, im *vb.Image) error {
		return FloodLog(w, im, im.LogLength, int(im.LogLength/vb.LogSectorSize))
	}})

	// Log: one entry claiming a 1 GiB log, with as many descriptors as fit
	// (it was read into memory whole).
	out = append(out, VHDX{"log_entry_1GiB.vhdx", withLog(1 << 30), func(w io.WriterAt, im *vb.Image) error {
		var s [vb.LogSectorSize]byte
		copy(s[:], "loge")
		binary.LittleEndian.PutUint32(s[8:], im.LogLength)
		binary.LittleEndian.PutUint32(s[24:], (im.LogLength-64)/32)
		vb.PutGUID(s[32:], vb.DefaultLogGUID)
		_, err := w.WriteAt(s[:], int64(im.LogOffset))
		return err
	}})

	// Log: a dirty log whose entry writes over the file type identifier.
	im := vb.New(vb.Options{})
	e := vb.NewLogEntry(1)
	e.Writes = []vb.LogWrite{{FileOffset: 0, Data: make([]byte, 4*kib)}}
	im.AddLogEntry(e)
	out = append(out, VHDX{"log_target_0.vhdx", im, nil})

	// Header: a log offset 1 MiB below 2^64 (offset + length wrapped).
	im = vb.New(vb.Options{})
	im.Headers[1].LogOffset = 1<<64 - mib
	out = append(out, VHDX{"log_offset_2e64.vhdx", im, nil})

	// Metadata: the has-parent flag with no parent locator item.
	im = vb.New(vb.Options{HasParent: true})
	im.RemoveMetadataItem(vb.ParentLocatorGUID)
	out = append(out, VHDX{"parent_without_locator.avhdx", im, nil})

	// Metadata: control characters in the creator and in the parent
	// locator's path.
	im = vb.New(vb.Options{HasParent: true, Creator: "creator" + ControlText, ParentLocator: []vb.KeyValue{
		{Key: "parent_linkage", Value: vb.FormatParentLinkage(vb.DefaultParentLinkage)},
		{Key: "relative_path", Value: "parent" + ControlText + ".vhdx"},
	}})
	out = append(out, VHDX{"control_chars.avhdx", im, nil})

	// BAT: a block entry pointing into the metadata region.
	im = vb.New(vb.Options{})
	im.BATOverride = map[int]uint64{im.PayloadBATIndex(1): vb.EncodeBATEntry(vb.PayloadFullyPresent, im.MetadataOffset)}
	out = append(out, VHDX{"bat_into_metadata.vhdx", im, nil})

	// BAT: a 64 TiB disk of 32 MiB blocks whose 2 Mi entries alternate
	// between a block 1 TiB beyond the file and ZERO (no extents merge).
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib})
	out = append(out, VHDX{"bat_64TiB.vhdx", im, func(w io.WriterAt, im *vb.Image) error {
		bat := make([]byte, 8*im.BATEntries())
		for i := range im.BATEntries() {
			v := vb.EncodeBATEntry(vb.PayloadZero, 0)
			if i%2 == 0 {
				v = vb.EncodeBATEntry(vb.PayloadFullyPresent, tib)
			}
			binary.LittleEndian.PutUint64(bat[8*i:], v)
		}
		_, err := w.WriteAt(bat, int64(im.BATOffset))
		return err
	}})

	// Metadata: 2047 entries, the most a table holds, each claiming 1 MiB.
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib})
	for len(im.Metadata.Items) < 2047 {
		im.Metadata.Items = append(im.Metadata.Items, vb.MetadataItem{ID: uuid.New(), Explicit: true, Offset: 64 * kib, Length: 1 << 20})
	}
	out = append(out, VHDX{"metadata_2047_items.vhdx", im, nil})

	// Parent locator: 65535 entries whose keys and values all overlap one
	// 64 KiB text (it decoded to gigabytes).
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib, HasParent: true})
	loc := make([]byte, 20+12*65535+65534)
	vb.PutGUID(loc, vb.VHDXParentLocatorTypeGUID)
	binary.LittleEndian.PutUint16(loc[18:], 65535)
	for i := range 65535 {
		e := loc[20+12*i:]
		binary.LittleEndian.PutUint32(e, uint32(20+12*65535))
		binary.LittleEndian.PutUint32(e[4:], uint32(20+12*65535))
		binary.LittleEndian.PutUint16(e[8:], 65534)
		binary.LittleEndian.PutUint16(e[10:], 65534)
	}
	for i := 20 + 12*65535; i+1 < len(loc); i += 2 {
		loc[i] = 'a'
	}
	im.MetadataItem(vb.ParentLocatorGUID).Data = loc
	out = append(out, VHDX{"parent_locator_65535.avhdx", im, nil})

	// Region table: a huge entry count in one copy, regions claiming 4 GiB
	// near 64 TiB in the other.
	im = vb.New(vb.Options{VirtualSize: 64 * tib, BlockSize: 32 * mib})
	im.AddRegion(uuid.New(), 64*tib, 1<<32-mib, false)
	out = append(out, VHDX{"region_table.vhdx", im, func(w io.WriterAt, _ *vb.Image) error {
		_, err := w.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, vb.RegionTable1Offset+8)
		return err
	}})
	return out
}
