//go:build js && wasm

// Command fsmodule is the filesystem half of the browser viewer: a second
// wasm module, loaded only when the Files view opens, that browses the
// filesystems of the virtual disk the core engine has open. It reads the
// disk through a function the page's worker gives it (the core engine's
// readDisk) and defines the global vhdxFiles object described in
// wasm/README.md.
package main

import (
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/browse"
	"github.com/vhdx-inspector/vhdx-inspector/partition"
	"github.com/vhdx-inspector/vhdx-inspector/wasm/jsutil"
)

// module holds the disk attached and the filesystems opened on it.
type module struct {
	mu      sync.Mutex
	gen     int
	disk    *remoteDisk
	table   *partition.Table
	volumes map[int]*volume // by partition number, once opened
}

// volume is one browsable filesystem.
type volume struct {
	part  *partition.Partition
	typ   string
	fsys  filesystem.FS
	mu    sync.Mutex // FS implementations serve one goroutine at a time
	start int64      // disk offset of the filesystem
}

func main() {
	m := &module{}
	methods := map[string]func(args []js.Value) (any, error){
		"attach":   m.attach,
		"volumes":  m.listVolumes,
		"readDir":  m.readDir,
		"stat":     m.stat,
		"extents":  m.extents,
		"find":     m.find,
		"read":     m.read,
		"hash":     m.hash,
		"saveFile": m.saveFile,
		"saveZip":  m.saveZip,
		"bodyfile": m.bodyfile,
	}
	obj := js.Global().Get("Object").New()
	for name, fn := range methods {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			return jsutil.Promise(func() (any, error) { return fn(args) })
		}))
	}
	js.Global().Set("vhdxFiles", obj)
	if ready := js.Global().Get("vhdxFilesReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// attach(read, size, sectorSize) reads the partition table of a new disk
// and forgets the filesystems of the one before. It resolves to
// {partitions, types}: the partitions without probing them (volumes()
// probes; the page has the core engine's probes) and the filesystem types
// this module browses.
func (m *module) attach(args []js.Value) (any, error) {
	read, size, sector := jsutil.Arg(args, 0), jsutil.Arg(args, 1), jsutil.Arg(args, 2)
	if read.Type() != js.TypeFunction || size.Type() != js.TypeNumber {
		return nil, errors.New("attach: expected read(offset, length), size and sector size")
	}
	ss := 512
	if sector.Type() == js.TypeNumber {
		ss = sector.Int()
	}
	d := newRemoteDisk(read, int64(size.Float()))
	t, err := partition.Read(d, d.Size(), ss)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.disk, m.table, m.volumes = d, t, map[int]*volume{}
	if err != nil {
		m.table = nil
		return nil, err
	}
	parts, err := m.describe(false)
	if err != nil {
		return nil, err
	}
	return jsonString(attachJSON{parts, browse.Types})
}

// attachJSON is what attach resolves to.
type attachJSON struct {
	Partitions []volumeJSON `json:"partitions"`
	Types      []string     `json:"types"`
}

func (m *module) listVolumes([]js.Value) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.table == nil {
		return nil, errors.New("no disk is attached")
	}
	vols, err := m.describe(true)
	if err != nil {
		return nil, err
	}
	return jsonString(vols)
}

// volumeJSON describes a partition in volumes().
type volumeJSON struct {
	Number    int              `json:"number"`
	Start     int64            `json:"start"`
	Length    int64            `json:"length"`
	TypeName  string           `json:"type_name"`
	Name      string           `json:"name,omitempty"`
	Info      *filesystem.Info `json:"filesystem,omitempty"`
	Browsable bool             `json:"browsable"`
	Error     string           `json:"error,omitempty"`
}

// describe lists the partitions, with their filesystems when probe is
// set; m.mu held.
func (m *module) describe(probe bool) ([]volumeJSON, error) {
	out := []volumeJSON{}
	for _, p := range m.table.Partitions {
		if p.Extended {
			continue
		}
		v := volumeJSON{Number: p.Number, Start: p.Start, Length: p.Length, TypeName: p.TypeName, Name: p.Name}
		if !probe {
			out = append(out, v)
			continue
		}
		sec := m.table.Section(m.disk, p)
		info, err := filesystem.Guard("probe", func() (*filesystem.Info, error) { return filesystem.Probe(sec, sec.Size()) })
		switch {
		case err != nil:
			v.Error = err.Error()
		case info != nil && info.Type != "":
			v.Info = info
			for _, t := range browse.Types {
				v.Browsable = v.Browsable || t == info.Type
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// volume returns the filesystem of partition args[0], opening it on first
// use.
func (m *module) volume(args []js.Value) (*volume, error) {
	a := jsutil.Arg(args, 0)
	if a.Type() != js.TypeNumber {
		return nil, errors.New("expected a partition number")
	}
	n := a.Int()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.table == nil {
		return nil, errors.New("no disk is attached")
	}
	if v := m.volumes[n]; v != nil {
		return v, nil
	}
	for _, p := range m.table.Partitions {
		if p.Number != n || p.Extended {
			continue
		}
		sec := m.table.Section(m.disk, p)
		info, err := filesystem.Guard("probe", func() (*filesystem.Info, error) { return filesystem.Probe(sec, sec.Size()) })
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", n, err)
		}
		if info == nil || info.Type == "" {
			return nil, fmt.Errorf("partition %d: no filesystem recognised", n)
		}
		fsys, err := filesystem.Guard(info.Type, func() (filesystem.FS, error) { return browse.Open(sec, sec.Size(), info.Type) })
		if err != nil {
			return nil, fmt.Errorf("partition %d (%s): %w", n, info.Type, err)
		}
		v := &volume{part: p, typ: info.Type, fsys: fsys, start: p.Start}
		m.volumes[n] = v
		return v, nil
	}
	return nil, fmt.Errorf("the disk has no partition %d", n)
}

// strArg returns args[i] as a string, or an error naming what.
func strArg(args []js.Value, i int, what string) (string, error) {
	a := jsutil.Arg(args, i)
	if a.Type() != js.TypeString {
		return "", fmt.Errorf("expected %s as a string", what)
	}
	return a.String(), nil
}
