//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/internal/report"
	"github.com/vhdx-inspector/vhdx-inspector/vdisk"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsblob"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// droppedFile is a File the user gave, opened as an image when it is one.
type droppedFile struct {
	name   string
	file   js.Value
	reader *watchedReader
	img    *vhdx.Image  // a VHDX image
	vimg   *vdisk.Image // an image in another format (qcow2, raw)
	err    error        // why it is not an image
}

// isImage reports whether d is (at least partly) an image.
func (d *droppedFile) isImage() bool { return d.img != nil || d.vimg != nil }

// cacheKey identifies a file by name, size, modification time and the
// current header's GUIDs (which change whenever the file is written).
func cacheKey(file js.Value, img *vhdx.Image) string {
	prop := func(name string) string {
		switch v := file.Get(name); v.Type() {
		case js.TypeString:
			return v.String()
		case js.TypeNumber:
			return fmt.Sprintf("%.0f", v.Float())
		}
		return ""
	}
	key := fmt.Sprintf("%s|%s|%s|%s", cacheVersion, prop("name"), prop("size"), prop("lastModified"))
	if h := img.CurrentHeader(); h != nil {
		key += fmt.Sprintf("|%s|%s|%s", h.FileWriteGUID, h.DataWriteGUID, h.LogGUID)
	}
	return key
}

type openResult struct {
	Key        string            `json:"key"`
	Format     vdisk.Format      `json:"format"` // always "vhdx" here
	Cached     bool              `json:"cached"`
	Name       string            `json:"name"`
	Summary    json.RawMessage   `json:"summary"`
	Structures report.Structures `json:"structures"`
	Error      string            `json:"error,omitempty"`
	// Chain lists the layers, the image shown first: all of them, or those
	// found before ChainError when the chain is incomplete.
	Chain      []report.ChainLayer `json:"chain,omitempty"`
	ChainError string              `json:"chain_error,omitempty"`
	// MissingParent is the file name the chain needs but was not given.
	MissingParent string `json:"missing_parent,omitempty"`
	// Others lists the other files given: unused images and non-images.
	Others []string `json:"others,omitempty"`
}

// open opens one File: the same as openFiles with a one-element array.
func (e *engine) open(args []js.Value) (any, error) {
	if len(args) < 1 || !args[0].Truthy() {
		return nil, errors.New("open: expected a File")
	}
	return e.openSet([]js.Value{args[0]}, false, openOptions(jsutil.Arg(args, 1)))
}

// openFiles opens an array of Files: the top of the chain they form (the
// image no other names as its parent, backing file or data file) is shown,
// read through the files found among them by file name. With add true the
// files join those given before; args[2] may hold {format: "raw"}.
func (e *engine) openFiles(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return nil, errors.New("openFiles: expected an array of Files")
	}
	files := make([]js.Value, args[0].Length())
	for i := range files {
		files[i] = args[0].Index(i)
	}
	add := len(args) > 1 && args[1].Truthy()
	return e.openSet(files, add, openOptions(jsutil.Arg(args, 2)))
}

// openOptions reads {format: "raw"} from opts: files of no known format
// then open as raw images.
func openOptions(opts js.Value) vdisk.Format {
	if opts.Type() == js.TypeObject && opts.Get("format").Type() == js.TypeString {
		return vdisk.Format(strings.ToLower(opts.Get("format").String()))
	}
	return ""
}

// openDropped opens one File as an image of whatever format its bytes (or,
// for raw images, its name) say; asRaw opens a file of no known format as
// a raw image.
func openDropped(f js.Value, asRaw bool) *droppedFile {
	d := &droppedFile{file: f, reader: &watchedReader{sizedReaderAt: jsblob.New(f)}}
	if n := f.Get("name"); n.Type() == js.TypeString {
		d.name = n.String()
	}
	size := d.reader.Size()
	format, err := vdisk.Identify(d.reader, size, d.name)
	if err != nil && asRaw && errors.Is(err, vdisk.ErrUnknownFormat) {
		format, err = vdisk.Raw, nil
	}
	switch {
	case err != nil:
		d.err = err
	case format == vdisk.VHDX:
		d.img, d.err = vhdx.Open(d.reader, size)
	default:
		d.vimg, d.err = vdisk.Open(d.reader, size, d.name, vdisk.Options{Format: format})
	}
	return d
}

func (e *engine) openSet(files []js.Value, add bool, format vdisk.Format) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var set []*droppedFile
	if add {
		set = e.files
	}
	for _, f := range files {
		set = replaceByName(set, openDropped(f, format == vdisk.Raw))
	}
	top := pickTop(set)
	if top == nil {
		for _, d := range set {
			var ue *vdisk.UnsupportedError
			if errors.As(d.err, &ue) { // it says the file's name
				return nil, d.err
			}
			if d.err != nil {
				return nil, fmt.Errorf("%s: %w", d.name, d.err)
			}
		}
		return nil, errors.New("no disk image among the files given")
	}
	if top.vimg != nil {
		e.files, e.top = set, top
		return e.openOther("")
	}
	e.files, e.top, e.img, e.key = set, top, top.img, cacheKey(top.file, top.img)
	e.vimg, e.vd, e.maps = nil, nil, nil
	e.blocks = nil
	if top.img.BAT != nil {
		e.blocks = newBlockSummary(top.img.BAT)
	}
	res := openResult{Key: e.key, Format: vdisk.VHDX, Name: top.name, Structures: report.StructuresOf(top.img)}
	if top.err != nil {
		res.Error = top.err.Error()
	}
	e.disk, e.diskErr = vhdx.OpenChain(top.img, top.name, e.resolve)
	var ce *vhdx.ChainError
	switch {
	case e.diskErr == nil && len(e.disk.Layers()) > 1:
		res.Chain = report.Chain(e.disk.Layers())
	case errors.As(e.diskErr, &ce):
		res.ChainError = e.diskErr.Error()
		res.Chain = report.Chain(ce.Found)
		if errors.Is(e.diskErr, vhdx.ErrParentNotFound) {
			res.MissingParent = ce.Parent
		}
	case e.diskErr != nil && res.Error == "":
		res.Error = e.diskErr.Error()
	}
	used := map[string]bool{}
	for _, l := range res.Chain {
		used[l.Name] = true
	}
	for _, d := range set {
		if d != top && !used[d.name] {
			res.Others = append(res.Others, d.name)
		}
	}
	// The summary without block counts needs no pass over the BAT; scan
	// adds them (and caches them with the block states).
	res.Summary, res.Cached = e.cachedSummary()
	if res.Summary == nil {
		b, err := json.Marshal(report.Describe(top.img))
		if err != nil {
			return nil, err
		}
		res.Summary = b
	}
	return jsonString(res)
}

// replaceByName adds d to set, replacing a file of the same name.
func replaceByName(set []*droppedFile, d *droppedFile) []*droppedFile {
	for i, x := range set {
		if x.name == d.name {
			set[i] = d
			return set
		}
	}
	return append(set, d)
}

// pickTop returns the image to show: the first image that no other image
// names as its parent, backing file or data file, preferring images that
// name one (the newest layer of a chain); nil when no file is even partly
// an image.
func pickTop(set []*droppedFile) *droppedFile {
	named := map[string]bool{}
	for _, d := range set {
		for _, n := range referencedNames(d) {
			named[strings.ToLower(n)] = true
		}
	}
	var best *droppedFile
	for _, d := range set {
		switch {
		case !d.isImage() || named[strings.ToLower(d.name)]:
		case best == nil:
			best = d
		case len(referencedNames(d)) > 0 && len(referencedNames(best)) == 0:
			best = d
		}
	}
	if best == nil { // every image is someone's parent: a loop; show the first
		for _, d := range set {
			if d.isImage() {
				return d
			}
		}
	}
	return best
}

// referencedNames lists the file names d refers to: a VHDX's parent, a
// qcow2's backing file and data file.
func referencedNames(d *droppedFile) []string {
	var out []string
	switch {
	case d.img != nil:
		if d.img.Metadata == nil || !d.img.Metadata.HasParent {
			return nil
		}
		for _, p := range vhdx.ParentPaths(d.img) {
			out = append(out, baseName(p))
		}
	case d.vimg != nil:
		for _, r := range d.vimg.References() {
			out = append(out, baseName(r.Name))
			for _, p := range r.Paths {
				out = append(out, baseName(p))
			}
		}
	}
	return out
}

// baseName is the file name of a path written with / or \.
func baseName(p string) string {
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}

// resolve finds a parent among the given files by the file name of a
// locator path (case-insensitively, as Windows names are).
func (e *engine) resolve(_ string, loc *vhdx.ParentLocator) (io.ReaderAt, int64, string, error) {
	var wanted []string // file names, as the locator spells them
	for _, key := range []string{"relative_path", "absolute_win32_path", "volume_path"} {
		if v, ok := loc.Get(key); ok && v != "" {
			if w := path.Base(strings.ReplaceAll(v, `\`, "/")); !slices.ContainsFunc(wanted, func(x string) bool { return strings.EqualFold(x, w) }) {
				wanted = append(wanted, w)
			}
		}
	}
	for _, w := range wanted {
		for _, d := range e.files {
			if strings.EqualFold(d.name, w) {
				return d.reader, d.reader.Size(), d.name, nil
			}
		}
	}
	return nil, 0, "", fmt.Errorf("drop %s together with the child (it was not among the files given)", strings.Join(wanted, " or "))
}
