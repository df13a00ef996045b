package qcow2

import (
	"bytes"
	"errors"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"io"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/hostile"
)

// Invariants every fuzz target checks: nothing panics or hangs, every
// error wraps a sentinel of this package (or is io.EOF from a read running
// past the end), and Open returns no image only when the file is not
// qcow2 at all.

var sentinels = []error{ErrNotQcow2, ErrCorrupt, ErrTruncated, ErrUnsupported, ErrEncrypted, ErrBeyondEnd,
	ErrBackingRequired, ErrBackingNotFound, ErrSnapshotNotFound, ErrBackingFormat, ErrChainLoop, ErrChainTooDeep, io.EOF}

func checkSentinel(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("%s: error wraps no sentinel: %v", what, err)
}

// addSeeds seeds f with the fixtures and with the inputs that once failed,
// kept in Go's corpus format under the repository's testdata/fuzz/NAME.
func addSeeds(f *testing.F, name string) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	for _, b := range hostile.QCOW2Images() {
		f.Add(b)
	}
	disktest.AddFuzzCorpus(f, "..", name)
}

func FuzzOpen(f *testing.F) {
	addSeeds(f, "FuzzOpen")
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Open(bytes.NewReader(data), int64(len(data)))
		checkSentinel(t, "Open", err)
		if img == nil {
			if !errors.Is(err, ErrNotQcow2) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("no image without ErrNotQcow2: %v", err)
			}
			return
		}
		img.Fields()
		img.Features()
		for i := range min(len(img.L1), 4) {
			_, err := img.L2(i)
			checkSentinel(t, "L2", err)
		}
	})
}

func FuzzExtensions(f *testing.F) {
	f.Add([]byte{0xe2, 0x79, 0x2a, 0xca, 0, 0, 0, 3, 'r', 'a', 'w', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x68, 0x03, 0xf8, 0x57, 0, 0, 0, 48, 0, 0, 'd', 'i', 'r', 't', 'y'})
	f.Add([]byte{0x23, 0x85, 0x28, 0x75, 0, 0, 0, 24})
	f.Add([]byte{0x05, 0x37, 0xbe, 0x77, 0, 0, 0, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		img := &Image{Header: &Header{Version: 3, ClusterBits: 16, HeaderLength: 104}}
		checkSentinel(t, "extensions", img.parseExtensions(data, 104))
		img.Fields()
		img.Features()
	})
}

func FuzzSnapshotTable(f *testing.F) {
	for _, b := range fixtures(f) {
		if img, err := Open(bytes.NewReader(b), int64(len(b))); err == nil && len(img.Snapshots) > 0 {
			f.Add(b[img.Header.SnapshotsOffset:])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		img := &Image{Size: int64(len(data)), r: bytes.NewReader(data),
			Header: &Header{Version: 3, ClusterBits: 9, NbSnapshots: uint32(data[0])<<8 | uint32(data[1]) + 1}}
		checkSentinel(t, "snapshots", img.readSnapshots())
		img.Fields()
	})
}

func FuzzDecompress(f *testing.F) {
	for name, b := range fixtures(f) {
		img, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil || !strings.Contains(name, "z") {
			continue
		}
		l2, _ := img.L2(0)
		for _, e := range l2 {
			if e.Kind == Compressed {
				f.Add(append([]byte{img.Header.CompressionType, byte(img.Header.ClusterBits)}, b[e.HostOffset:min(int64(len(b)), e.HostOffset+e.CompressedLength)]...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		img := &Image{Header: &Header{ClusterBits: 9 + uint32(data[1]%13), CompressionType: data[0] % 2}}
		_ = img.decompressCluster(make([]byte, img.Header.ClusterSize()), data[2:])
	})
}

func FuzzDisk(f *testing.F) {
	addSeeds(f, "FuzzDisk")
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		d, err := img.Disk()
		checkSentinel(t, "Disk", err)
		if err != nil {
			return
		}
		if d.Size() <= 4<<20 {
			var buf bytes.Buffer
			_, err := d.WriteTo(&buf)
			checkSentinel(t, "WriteTo", err)
		}
		extents := 0
		stop := errors.New("enough")
		buf := make([]byte, 4096)
		err = d.Extents(func(e Extent) error {
			if extents++; extents > 1000 {
				return stop
			}
			_, err := d.ReadAt(buf[:min(e.Length, 4096)], e.Start)
			checkSentinel(t, "ReadAt", err)
			return nil
		})
		if err != stop {
			checkSentinel(t, "Extents", err)
		}
	})
}

func FuzzCheck(f *testing.F) {
	addSeeds(f, "FuzzCheck")
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _ := Open(bytes.NewReader(data), int64(len(data)))
		if img == nil {
			return
		}
		rep := img.CheckReport()
		if rep.Leaks < 0 || rep.Corruptions < 0 || rep.CheckErrors < 0 {
			t.Fatalf("negative counts %+v", rep)
		}
	})
}
