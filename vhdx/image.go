package vhdx

import (
	"errors"
	"io"
	"sync"
)

// maxFileSize bounds file sizes taken from the log: a 64 TiB disk plus
// generous room for metadata, sector bitmaps and log.
const maxFileSize = 2 * maxVirtualSize

// Image is an opened VHDX file. Its fields describe the structures as the
// file reads after an in-memory log replay; OnDisk gives the view before
// replay. An Image is safe for concurrent use.
type Image struct {
	Size       int64           // size of the file
	Identifier *FileIdentifier // file type identifier
	Headers    [2]*Header      // header 1 (64 KiB) and header 2 (128 KiB)
	// Current is the index in Headers of the current header;
	// CurrentReason says why it was chosen.
	Current       int
	CurrentReason string
	RegionTables  [2]*RegionTable // region table 1 (192 KiB) and 2 (256 KiB)
	// Regions is the region table in use (the first valid copy).
	Regions  *RegionTable
	Log      *Log
	Metadata *Metadata
	BAT      *BAT
	// Replay describes what the in-memory log replay changed; nil when the
	// log was clean or replay was disabled.
	Replay *Replay

	src      io.ReaderAt // the file as stored
	view     io.ReaderAt // the file after replay (src if nothing replayed)
	viewSize int64
	findings []Finding // problems met while opening
	readErr  error     // why the virtual disk cannot be read, if it cannot

	onDiskOnce sync.Once
	onDisk     *Image
}

// Options adjust how Open reads an image.
type Options struct {
	// NoReplay opens the on-disk view: a dirty log is parsed but not replayed.
	NoReplay bool
}

// Open reads the VHDX image in r, which holds size bytes, and replays a dirty
// log in memory. It fails when the file is not a VHDX or when no usable
// header or region table exists. When err is non-nil but the file was
// recognised, the returned Image is also non-nil and holds every structure
// that could be parsed, for inspection tools.
//
// Problems that stop the virtual disk from being read (an unknown required
// region or metadata item, invalid metadata, a differencing disk) do not
// fail Open: Disk returns them.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	return OpenWithOptions(r, size, Options{})
}

// OpenWithOptions is Open with options.
func OpenWithOptions(r io.ReaderAt, size int64, opt Options) (*Image, error) {
	img := &Image{Size: size, src: r, view: r, viewSize: size, Current: -1}
	err := img.open(opt)
	if err != nil {
		img.readErr = err
		if img.Identifier == nil || img.Identifier.Signature != "vhdxfile" {
			return nil, err
		}
	}
	return img, err
}

// open parses the structures in order, stopping at the first that makes
// the rest unreachable.
func (img *Image) open(opt Options) error {
	r, size := img.src, img.Size
	id, err := readIdentifier(r)
	img.Identifier = id
	if err != nil {
		if errors.Is(err, ErrTruncated) {
			err = formatErr(ErrNotVHDX, "file type identifier", 0, "file is %d bytes, too short for a VHDX", size)
		}
		return err
	}
	if size < headerAreaSize {
		return formatErr(ErrTruncated, "header section", 0, "file is %d bytes; the header section alone is 1 MiB", size)
	}
	img.Headers[0], _ = readHeader(r, header1Offset)
	img.Headers[1], _ = readHeader(r, header2Offset)
	img.Current, img.CurrentReason, err = pickHeader(img.Headers)
	if err != nil {
		return err
	}
	img.RegionTables[0] = readRegionTable(r, region1Offset)
	img.RegionTables[1] = readRegionTable(r, region2Offset)
	for _, t := range img.RegionTables {
		if t.Valid {
			img.Regions = t
			break
		}
	}
	if img.Regions == nil {
		return formatErr(ErrRegionTablesCorrupt, "region tables", region1Offset, "region table 1: %s; region table 2: %s", img.RegionTables[0].Problem, img.RegionTables[1].Problem)
	}
	img.Log = readLog(r, img.CurrentHeader(), size)
	if len(img.Log.Active) > 0 && len(img.Log.unsafe) == 0 && !opt.NoReplay {
		ov, rep := replayLog(r, size, img.Log)
		img.view, img.viewSize, img.Replay = ov, ov.size, rep
	}
	img.readErr = img.loadRegions()
	if img.Replay != nil {
		img.classifyChanges()
	}
	return nil
}

// loadRegions parses the metadata and BAT regions through the replayed view
// and returns why the virtual disk cannot be read, or nil.
func (img *Image) loadRegions() error {
	var batRegion, metaRegion *RegionEntry
	var unsupported error
	for i := range img.Regions.Entries {
		e := &img.Regions.Entries[i]
		switch {
		case e.GUID == RegionBAT && batRegion == nil:
			batRegion = e
		case e.GUID == RegionMetadata && metaRegion == nil:
			metaRegion = e
		case e.Name == "unknown" && e.Required && unsupported == nil:
			unsupported = formatErr(ErrUnsupported, "region table entry", e.Offset, "unknown region %s is marked required", e.GUID)
		}
	}
	if metaRegion == nil {
		return formatErr(ErrCorrupt, "region table", img.Regions.Offset, "no metadata region")
	}
	img.Metadata = readMetadata(img.view, *metaRegion, img.viewSize)
	if batRegion == nil {
		return formatErr(ErrCorrupt, "region table", img.Regions.Offset, "no BAT region")
	}
	if err := img.Metadata.usable(); err != nil {
		return err
	}
	img.BAT = newBAT(img.view, *batRegion, img.Metadata)
	if uint64(img.BAT.Length) < 8*img.BAT.EntryCount {
		return formatErr(ErrCorrupt, "BAT region", img.BAT.Offset, "region is %d bytes, %d entries need %d", img.BAT.Length, img.BAT.EntryCount, 8*img.BAT.EntryCount)
	}
	return unsupported
}

// CurrentHeader returns the header in use, or nil when neither is valid.
func (img *Image) CurrentHeader() *Header {
	if img.Current < 0 {
		return nil
	}
	return img.Headers[img.Current]
}

// OnDisk returns the image as stored, before log replay. When the log is
// clean it returns img itself.
func (img *Image) OnDisk() *Image {
	if img.Replay == nil {
		return img
	}
	img.onDiskOnce.Do(func() {
		img.onDisk, _ = OpenWithOptions(img.src, img.Size, Options{NoReplay: true})
	})
	return img.onDisk
}

// ReadFile reads the file as it stands after log replay (the bytes a hex
// viewer shows). The file may be longer than Size when replay extends it.
func (img *Image) ReadFile(p []byte, off int64) (int, error) { return img.view.ReadAt(p, off) }

// FileSize returns the size of the file after log replay.
func (img *Image) FileSize() int64 { return img.viewSize }

// classifyChanges names the structure each replayed range falls in.
func (img *Image) classifyChanges() {
	for i := range img.Replay.Changes {
		c := &img.Replay.Changes[i]
		c.Structure = "other"
		switch {
		case img.BAT != nil && c.Offset >= img.BAT.Offset && c.Offset < img.BAT.Offset+img.BAT.Length:
			c.Structure = "BAT"
		case img.Metadata != nil && c.Offset >= img.Metadata.Offset && c.Offset < img.Metadata.Offset+img.Metadata.Length:
			c.Structure = "metadata"
		case c.Offset >= headerAreaSize:
			c.Structure = "payload"
		}
	}
}
