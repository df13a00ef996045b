//go:build js && wasm

package main

import (
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// entryJSON is an entry as the page lists it. Times are RFC 3339 in UTC,
// absent when the filesystem does not keep them.
type entryJSON struct {
	Name       string               `json:"name"`
	Path       string               `json:"path,omitempty"`
	Type       filesystem.EntryType `json:"type"`
	Size       int64                `json:"size"`
	Mtime      string               `json:"mtime,omitempty"`
	Atime      string               `json:"atime,omitempty"`
	Ctime      string               `json:"ctime,omitempty"`
	Btime      string               `json:"btime,omitempty"`
	Mode       string               `json:"mode"`
	Attributes uint32               `json:"attributes,omitempty"`
	UID        *uint32              `json:"uid,omitempty"`
	GID        *uint32              `json:"gid,omitempty"`
	ID         string               `json:"id"`
	Deleted    bool                 `json:"deleted,omitempty"`
	Streams    []filesystem.Stream  `json:"streams,omitempty"`
	Target     string               `json:"target,omitempty"`
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// toEntry converts e; withPath keeps its full path (search results).
func toEntry(e filesystem.Entry, withPath bool) entryJSON {
	j := entryJSON{
		Name: e.Name, Type: e.Type, Size: e.Size,
		Mtime: stamp(e.Modified), Atime: stamp(e.Accessed), Ctime: stamp(e.Changed), Btime: stamp(e.Born),
		Mode: filesystem.ModeString(e)[2:], Attributes: e.Attributes, ID: e.ID, Deleted: e.Deleted,
		Streams: e.Streams, Target: e.Target,
	}
	if withPath {
		j.Path = e.Path
	}
	if e.HasOwner {
		uid, gid := e.UID, e.GID
		j.UID, j.GID = &uid, &gid
	}
	return j
}
