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
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsblob"
)

// droppedFile is a File the user gave, opened as an image when it is one.
type droppedFile struct {
	name   string
	file   js.Value
	reader *watchedReader
	img    *vhdx.Image
	err    error // why it is not an image
}

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
	return e.openSet([]js.Value{args[0]}, false)
}

// openFiles opens an array of Files: the top of the differencing chain
// they form (the image no other names as its parent) is shown, read
// through the parents found among them by file name. With add true the
// files join those given before.
func (e *engine) openFiles(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return nil, errors.New("openFiles: expected an array of Files")
	}
	files := make([]js.Value, args[0].Length())
	for i := range files {
		files[i] = args[0].Index(i)
	}
	add := len(args) > 1 && args[1].Truthy()
	return e.openSet(files, add)
}

func (e *engine) openSet(files []js.Value, add bool) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var set []*droppedFile
	if add {
		set = e.files
	}
	for _, f := range files {
		d := &droppedFile{name: f.Get("name").String(), file: f, reader: &watchedReader{sizedReaderAt: jsblob.New(f)}}
		d.img, d.err = vhdx.Open(d.reader, d.reader.Size())
		set = replaceByName(set, d)
	}
	top := pickTop(set)
	if top == nil {
		for _, d := range set {
			if d.err != nil {
				return nil, fmt.Errorf("%s: %w", d.name, d.err)
			}
		}
		return nil, errors.New("no VHDX image among the files given")
	}
	e.files, e.top, e.img, e.key = set, top, top.img, cacheKey(top.file, top.img)
	e.blocks = nil
	if top.img.BAT != nil {
		e.blocks = newBlockSummary(top.img.BAT)
	}
	res := openResult{Key: e.key, Name: top.name, Structures: report.StructuresOf(top.img)}
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
// names as its parent, preferring differencing disks (the newest layer of
// a chain); nil when no file is even partly an image.
func pickTop(set []*droppedFile) *droppedFile {
	named := map[string]bool{}
	for _, d := range set {
		if d.img != nil {
			for _, p := range vhdx.ParentPaths(d.img) {
				named[strings.ToLower(path.Base(p))] = true
			}
		}
	}
	var best *droppedFile
	for _, d := range set {
		switch {
		case d.img == nil || named[strings.ToLower(d.name)]:
		case best == nil:
			best = d
		case d.img.Metadata != nil && d.img.Metadata.HasParent && !(best.img.Metadata != nil && best.img.Metadata.HasParent):
			best = d
		}
	}
	if best == nil { // every image is someone's parent: a loop; show the first
		for _, d := range set {
			if d.img != nil {
				return d
			}
		}
	}
	return best
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
