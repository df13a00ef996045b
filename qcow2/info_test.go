package qcow2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// qemuInfo is the part of qemu-img info --output=json the tests compare.
type qemuInfo struct {
	VirtualSize     int64  `json:"virtual-size"`
	ClusterSize     int64  `json:"cluster-size"`
	BackingFilename string `json:"backing-filename"`
	BackingFormat   string `json:"backing-filename-format"`
	Dirty           bool   `json:"dirty-flag"`
	Snapshots       []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DateSec     uint32 `json:"date-sec"`
		DateNsec    uint32 `json:"date-nsec"`
		VMClockSec  uint64 `json:"vm-clock-sec"`
		VMClockNsec uint64 `json:"vm-clock-nsec"`
		VMStateSize uint64 `json:"vm-state-size"`
		ICount      uint64 `json:"icount"`
	} `json:"snapshots"`
	Specific struct {
		Data struct {
			Compat          string `json:"compat"`
			CompressionType string `json:"compression-type"`
			LazyRefcounts   bool   `json:"lazy-refcounts"`
			RefcountBits    int    `json:"refcount-bits"`
			Corrupt         bool   `json:"corrupt"`
			ExtendedL2      bool   `json:"extended-l2"`
			DataFile        string `json:"data-file"`
			DataFileRaw     bool   `json:"data-file-raw"`
		} `json:"data"`
	} `json:"format-specific"`
}

// TestInfoMatchesQemu compares the header, extensions and snapshot table
// with what qemu-img info reads.
func TestInfoMatchesQemu(t *testing.T) {
	for i, opts := range []string{
		"cluster_size=16k,lazy_refcounts=on,refcount_bits=8,compression_type=zstd,extended_l2=on",
		"compat=0.10,cluster_size=4k",
		"data_file=DIR/d.raw,data_file_raw=on,refcount_bits=64",
		"backing_file=DIR/b.raw,backing_fmt=raw",
		"compat=0.10,backing_file=DIR/b.raw,backing_fmt=raw", // extensions in a version 2 header
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "raw", filepath.Join(dir, "b.raw"), "1M")
			path := filepath.Join(dir, "i.qcow2")
			disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", strings.ReplaceAll(opts, "DIR", dir), path, "1M")
			if !strings.Contains(opts, "data_file") {
				disktest.Output(t, "qemu-img", "snapshot", "-c", "one", path)
				disktest.Output(t, "qemu-img", "snapshot", "-c", "two", path)
			}
			var q qemuInfo
			if err := json.Unmarshal(disktest.Output(t, "qemu-img", "info", "--output=json", path), &q); err != nil {
				t.Fatal(err)
			}
			img := openImage(t, path)
			h := img.Header
			qd := q.Specific.Data
			compat := map[uint32]string{2: "0.10", 3: "1.1"}[h.Version]
			compression := map[uint8]string{0: "zlib", 1: "zstd"}[h.CompressionType]
			got := []any{int64(h.VirtualSize), h.ClusterSize(), img.BackingFile, img.BackingFormat, h.Dirty(),
				compat, compression, h.CompatibleFeatures&CompatLazyRefcounts != 0, h.RefcountBits(), h.Corrupt(), h.ExtendedL2(), img.DataFile, h.DataFileRaw()}
			want := []any{q.VirtualSize, q.ClusterSize, q.BackingFilename, q.BackingFormat, q.Dirty,
				qd.Compat, qd.CompressionType, qd.LazyRefcounts, qd.RefcountBits, qd.Corrupt, qd.ExtendedL2, qd.DataFile, qd.DataFileRaw}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d: %v, qemu-img %v", i, got[i], want[i])
				}
			}
			if len(img.Snapshots) != len(q.Snapshots) {
				t.Fatalf("%d snapshots, qemu-img %d", len(img.Snapshots), len(q.Snapshots))
			}
			for i, s := range img.Snapshots {
				w := q.Snapshots[i]
				if s.ID != w.ID || s.Name != w.Name || s.DateSec != w.DateSec || s.DateNsec != w.DateNsec ||
					s.VMClockNsec != w.VMClockSec*1e9+w.VMClockNsec || s.StateSize() != w.VMStateSize || s.ICount != w.ICount {
					t.Errorf("snapshot %d: %+v, qemu-img %+v", i, s, w)
				}
			}
			if len(img.Fields()) < 13 {
				t.Errorf("%d fields", len(img.Fields()))
			}
		})
	}
}

// TestChainErrors checks the errors of a chain that cannot be completed.
func TestChainErrors(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.qcow2")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "missing.qcow2", "-F", "qcow2", "-u", a, "1M")
	img := openImage(t, a)
	_, err := img.Disk()
	if !errors.Is(err, ErrBackingRequired) {
		t.Errorf("Disk: %v, want ErrBackingRequired", err)
	}
	_, err = OpenChain(img, a, dirResolver(t, dir))
	var ce *ChainError
	if !errors.As(err, &ce) || !errors.Is(err, ErrBackingNotFound) || ce.Parent != "missing.qcow2" || len(ce.Found) != 1 || ce.Ref.Kind != BackingFile {
		t.Errorf("missing backing file: %v (%+v)", err, ce)
	}
	// a -> b -> a loops.
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "-u", a, "1M")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "-u", b, "1M")
	if _, err := OpenChain(openImage(t, a), filepath.Clean(a), dirResolver(t, dir)); !errors.Is(err, ErrChainLoop) {
		t.Errorf("loop: %v", err)
	}
	// A backing format other than qcow2 and raw.
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "vmdk", b, "1M")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "vmdk", "-u", a, "1M")
	if _, err := OpenChain(openImage(t, a), a, dirResolver(t, dir)); !errors.Is(err, ErrBackingFormat) {
		t.Errorf("vmdk backing file: %v", err)
	}
	// A missing data file.
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "d.raw"), a, "1M")
	if err := os.Remove(filepath.Join(dir, "d.raw")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenChain(openImage(t, a), a, dirResolver(t, dir)); !errors.As(err, &ce) || !errors.Is(err, ErrBackingNotFound) || ce.Parent != filepath.Join(dir, "d.raw") || ce.Ref.Kind != DataFile {
		t.Errorf("missing data file: %v", err)
	}
	if _, err := OpenChainSnapshot(openImage(t, a), a, "nope", nil); !errors.Is(err, ErrSnapshotNotFound) {
		t.Error("a snapshot that does not exist opened")
	}
}

// TestEncrypted: the structures of LUKS and legacy AES images open and
// check clean; their data does not read.
func TestEncrypted(t *testing.T) {
	for _, format := range []string{"aes", "luks"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "e.qcow2")
			opts := "encrypt.format=" + format + ",encrypt.key-secret=sec0"
			if format == "luks" {
				opts += ",encrypt.iter-time=10"
			}
			args := []string{"create", "-q", "--object", "secret,id=sec0,data=password", "-f", "qcow2", "-o", opts, path, "1M"}
			// qemu-img times PBKDF2 to choose its iterations, and on a busy
			// machine may fail with "Unable to get accurate CPU usage":
			// try again then.
			for try := 0; ; try++ {
				out, err := exec.Command("qemu-img", args...).CombinedOutput()
				if err == nil {
					break
				}
				if try == 4 || !bytes.Contains(out, []byte("accurate CPU usage")) {
					t.Fatalf("qemu-img %q: %v: %s", args, err, out)
				}
			}
			img := openImage(t, path)
			want := map[string]uint32{"aes": CryptAES, "luks": CryptLUKS}[format]
			if img.Header.CryptMethod != want || (img.CryptoHeader != nil) != (format == "luks") {
				t.Errorf("crypt_method %d, pointer %+v", img.Header.CryptMethod, img.CryptoHeader)
			}
			if _, err := img.Disk(); !errors.Is(err, ErrEncrypted) {
				t.Errorf("Disk: %v", err)
			}
			q := runQemuCheckArgs(t, "--object", "secret,id=sec0,data=password", "--image-opts",
				"driver=qcow2,encrypt.key-secret=sec0,file.filename="+path)
			rep := img.CheckReport()
			if rep.Leaks != q.Leaks || rep.Corruptions != q.Corruptions {
				t.Errorf("check %+v, qemu-img %+v", rep, q)
			}
		})
	}
}

// TestUnknownIncompatible: an unknown incompatible bit stops reading, and
// is named as unknown.
func TestUnknownIncompatible(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.qcow2")
	disktest.Output(t, "qemu-img", "create", "-q", "-f", "qcow2", path, "1M")
	patch(t, path, 72, 8, 1<<40)
	img := openImage(t, path)
	if _, err := img.Disk(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Disk: %v", err)
	}
	var found bool
	for _, f := range img.Features() {
		found = found || f.Bit == 40 && f.Kind == FeatureIncompatible && !f.Known
	}
	if !found {
		t.Errorf("features %+v lack unknown bit 40", img.Features())
	}
}
