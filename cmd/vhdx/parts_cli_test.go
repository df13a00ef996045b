package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// partsOut is what parts --json prints, as the tests read it.
type partsOut struct {
	Scheme     string            `json:"scheme"`
	SectorSize int               `json:"sector_size"`
	BlockSize  int64             `json:"block_size"`
	Partitions []partPart        `json:"partitions"`
	Findings   []json.RawMessage `json:"findings"`
}

type partPart struct {
	Number      int      `json:"number"`
	Start       int64    `json:"start"`
	Length      int64    `json:"length"`
	StartSector int64    `json:"start_sector"`
	Sectors     int64    `json:"sectors"`
	Type        string   `json:"type"`
	TypeName    string   `json:"type_name"`
	Name        string   `json:"name"`
	GUID        string   `json:"guid"`
	Attributes  []string `json:"attributes"`
	Bootable    bool     `json:"bootable"`
	Extended    bool     `json:"extended"`
	Blocks      []int64  `json:"blocks"`
	Filesystem  *fsOut   `json:"filesystem"`
	LVM         *struct {
		PVUUID         string `json:"pv_uuid"`
		VolumeGroup    string `json:"volume_group"`
		LogicalVolumes []struct {
			Name       string `json:"name"`
			Size       int64  `json:"size"`
			Filesystem *fsOut `json:"filesystem"`
			Error      string `json:"error"`
			Extents    []struct {
				LVOffset   int64 `json:"lv_offset"`
				Length     int64 `json:"length"`
				DiskOffset int64 `json:"disk_offset"`
			} `json:"extents"`
		} `json:"logical_volumes"`
	} `json:"lvm"`
}

type fsOut struct {
	Type      string `json:"type"`
	Label     string `json:"label"`
	UUID      string `json:"uuid"`
	Size      int64  `json:"size"`
	BlockSize int64  `json:"block_size"`
	Used      int64  `json:"used"`
}

func partsJSONOf(t *testing.T, path string) partsOut {
	t.Helper()
	var out partsOut
	if err := json.Unmarshal(mustSucceed(t, "parts", "--json", path), &out); err != nil {
		t.Fatal(err)
	}
	if text := mustSucceed(t, "parts", path); !strings.Contains(string(text), "Scheme: "+out.Scheme) {
		t.Errorf("parts text output lacks the scheme:\n%s", text)
	}
	return out
}

// blkidAt probes the filesystem at offset off of a raw disk with blkid.
func blkidAt(t *testing.T, raw string, off, length int64) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, tag := range []string{"TYPE", "LABEL", "UUID"} {
		out, _ := execOutput("blkid", "-p", "-O", fmt.Sprint(off), "-S", fmt.Sprint(length), "-o", "value", "-s", tag, raw)
		m[tag] = strings.TrimSuffix(out, "\n")
	}
	return m
}

// blkidTypes maps blkid's TYPE (and VERSION for FAT) to parts' types.
var blkidTypes = map[string]string{"vfat": "fat", "swap": "swap", "ext4": "ext4", "ext2": "ext2", "ext3": "ext3",
	"xfs": "xfs", "btrfs": "btrfs", "ntfs": "ntfs", "exfat": "exfat", "iso9660": "iso9660", "": ""}

// checkPartsAgainstTools compares parts --json of an image with sfdisk
// and blkid run on raw, a copy of its virtual disk (where sfdisk finds no
// table, the only partition is the whole disk).
func checkPartsAgainstTools(t *testing.T, got partsOut, raw string, blockSize int64) {
	t.Helper()
	sf := disktest.SfdiskIfAny(t, raw)
	pt := sf.PartitionTable
	wantScheme := map[string]string{"dos": "mbr", "gpt": "gpt", "": "none"}[pt.Label]
	if got.Scheme != wantScheme {
		t.Fatalf("scheme %q, sfdisk says %q", got.Scheme, pt.Label)
	}
	if got.BlockSize != blockSize {
		t.Errorf("block_size %d, want %d", got.BlockSize, blockSize)
	}
	if pt.Label != "" && len(got.Partitions) != len(pt.Partitions) {
		t.Fatalf("%d partitions, sfdisk lists %d", len(got.Partitions), len(pt.Partitions))
	}
	for i, p := range got.Partitions {
		if pt.Label != "" {
			sp := pt.Partitions[i]
			num, _ := strconv.Atoi(strings.TrimPrefix(sp.Node, pt.Device))
			if p.Number != num || p.StartSector != sp.Start || p.Sectors != sp.Size {
				t.Errorf("partition %d at %d+%d, sfdisk %s at %d+%d", p.Number, p.StartSector, p.Sectors, sp.Node, sp.Start, sp.Size)
			}
			if typ, err := strconv.ParseUint(sp.Type, 16, 8); err == nil && p.Type != fmt.Sprintf("0x%02x", typ) {
				t.Errorf("partition %d type %s, sfdisk %s", p.Number, p.Type, sp.Type)
			} else if err != nil && (p.Type != sp.Type || p.GUID != sp.UUID || p.Name != sp.Name) {
				t.Errorf("partition %d %s %s %q, sfdisk %s %s %q", p.Number, p.Type, p.GUID, p.Name, sp.Type, sp.UUID, sp.Name)
			}
		} else if p.Number != 0 || p.Start != 0 {
			t.Errorf("no table, yet partition %d at %d", p.Number, p.Start)
		}
		var want []int64 // a raw image has no blocks
		if blockSize > 0 {
			want = []int64{p.Start / blockSize, (p.Start + p.Length - 1) / blockSize}
		}
		if !slices.Equal(p.Blocks, want) {
			t.Errorf("partition %d blocks %v, want %v", p.Number, p.Blocks, want)
		}
		if p.Extended {
			continue
		}
		b := blkidAt(t, raw, p.Start, p.Length)
		var fsType, label, uuid string
		if fs := p.Filesystem; fs != nil {
			fsType, label, uuid = strings.TrimRight(fs.Type, "0123456789"), fs.Label, fs.UUID
			if fsType == "ext" {
				fsType = fs.Type
			}
		}
		if blkidTypes[b["TYPE"]] != fsType || b["LABEL"] != label || b["UUID"] != uuid {
			t.Errorf("partition %d filesystem %q %q %q, blkid %q %q %q", p.Number, fsType, label, uuid, b["TYPE"], b["LABEL"], b["UUID"])
		}
	}
}

// execOutput runs a tool and returns its standard output.
func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}

// rawHeads writes a sparse raw copy of disk holding its first MiB and the
// first MiB of each partition sfdisk finds there: enough for sfdisk and
// blkid, without writing gigabytes of zeros.
func rawHeads(t *testing.T, disk *vhdx.Disk) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(disk.Size()); err != nil {
		t.Fatal(err)
	}
	copyAt := func(off int64) {
		n := min(1<<20, disk.Size()-off)
		if _, err := io.Copy(io.NewOffsetWriter(f, off), io.NewSectionReader(disk, off, n)); err != nil {
			t.Fatal(err)
		}
	}
	copyAt(0)
	sf := disktest.SfdiskIfAny(t, raw)
	for _, p := range sf.PartitionTable.Partitions {
		copyAt(p.Start * 512)
	}
	return raw
}

func TestCorpusParts(t *testing.T) {
	forEachCorpusImage(t, func(t *testing.T, img corpusImage, path string, size int64) {
		facts, _ := img.facts["partitions"].(string)
		if facts == "" {
			t.Skipf("MANIFEST.json gives no partitions for %s", img.name)
		}
		got := partsJSONOf(t, path)
		scheme, want := disktest.ManifestPartitions(facts)
		if got.Scheme != scheme {
			t.Errorf("scheme %q, MANIFEST says %q", got.Scheme, facts)
		}
		if got.Scheme == "mbr" && len(want) != len(got.Partitions) {
			t.Errorf("%d partitions, MANIFEST describes %d: %q", len(got.Partitions), len(want), facts)
		}
		for i, w := range want[:min(len(want), len(got.Partitions))] {
			p := got.Partitions[i]
			if p.Type != w.Type || p.StartSector != w.Start || p.Sectors != w.Length {
				t.Errorf("partition %d: %s at %d+%d, MANIFEST: %+v", p.Number, p.Type, p.StartSector, p.Sectors, w)
			}
		}
		for _, fs := range []string{"btrfs", "swap", "xfs"} {
			if strings.Contains(strings.ToLower(facts), fs) && !slices.ContainsFunc(got.Partitions, func(p partPart) bool {
				return p.Filesystem != nil && p.Filesystem.Type == fs
			}) {
				t.Errorf("MANIFEST names %s (%q); parts finds none", fs, facts)
			}
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		vi, err := vhdx.Open(f, size)
		if err != nil {
			t.Fatal(err)
		}
		disk, err := vi.Disk()
		if err != nil {
			t.Fatal(err)
		}
		checkPartsAgainstTools(t, got, rawHeads(t, disk), int64(vi.Metadata.BlockSize))
	})
}

// fsImage makes a filesystem of size bytes with mkfs and returns its path.
func fsImage(t *testing.T, size int64, mkfs ...string) string {
	t.Helper()
	disktest.Need(t, mkfs[0])
	path := disktest.Sparse(t, "fs.img", size)
	disktest.Run(t, mkfs[0], append(mkfs[1:], path)...)
	return path
}

// place copies file into disk at offset off.
func place(t *testing.T, disk string, off int64, file string) {
	t.Helper()
	src, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(io.NewOffsetWriter(dst, off), src); err != nil {
		t.Fatal(err)
	}
}

const mib = 1 << 20

// TestPartsMade partitions disks with sgdisk (GPT) and sfdisk (MBR with
// logical partitions), puts a filesystem made by its own mkfs in each
// partition, converts the disk to VHDX and qcow2 with qemu-img, and
// compares parts --json on the VHDX, the qcow2 and the raw disk with
// sfdisk and blkid.
func TestPartsMade(t *testing.T) {
	disktest.Need(t, "sgdisk", "sfdisk", "blkid", "qemu-img")
	gpt := disktest.Sparse(t, "gpt.img", 512*mib)
	disktest.Run(t, "sgdisk", "-n", "1:1M:+32M", "-t", "1:8300", "-c", "1:root",
		"-n", "2:0:+32M", "-t", "2:ef00", "-c", "2:EFI system partition",
		"-n", "3:0:+32M", "-t", "3:0700", "-c", "3:Windows",
		"-n", "4:0:+300M", "-t", "4:8300", "-A", "4:set:2",
		"-n", "6:0:+8M", "-t", "6:8200", gpt)
	place(t, gpt, 1*mib, fsImage(t, 32*mib, "mkfs.ext4", "-q", "-F", "-L", "root"))
	place(t, gpt, 33*mib, fsImage(t, 32*mib, "mkfs.vfat", "-F", "16", "-n", "ESP"))
	place(t, gpt, 65*mib, fsImage(t, 32*mib, "mkntfs", "-F", "-Q", "-q", "-L", "Windows"))
	place(t, gpt, 97*mib, fsImage(t, 300*mib, "mkfs.xfs", "-q", "-f", "-L", "data"))
	place(t, gpt, 397*mib, fsImage(t, 8*mib, "mkswap", "-L", "swap"))

	mbr := disktest.Sparse(t, "mbr.img", 256*mib)
	disktest.RunInput(t, "label: dos\nstart=2048, size=65536, type=83, bootable\nstart=67584, size=409600, type=5\nstart=477184, size=40960, type=c\nstart=518144, size=4096, type=da\nsize=65536, type=7\nsize=262144, type=83\n", "sfdisk", "-q", mbr)
	place(t, mbr, 1*mib, fsImage(t, 32*mib, "mkfs.ext3", "-q", "-F", "-L", "boot"))
	tab := disktest.Sfdisk(t, mbr)
	parts := tab.PartitionTable.Partitions
	if len(parts) != 6 {
		t.Fatalf("sfdisk made %d partitions", len(parts))
	}
	place(t, mbr, parts[2].Start*512, fsImage(t, 20*mib, "mkfs.vfat", "-n", "DATA"))
	place(t, mbr, parts[4].Start*512, fsImage(t, 32*mib, "mkfs.exfat", "-L", "exchange"))
	place(t, mbr, parts[5].Start*512, fsImage(t, 128*mib, "mkfs.btrfs", "-q", "-f", "-L", "home"))

	for _, raw := range []string{gpt, mbr} {
		t.Run(filepath.Base(raw), func(t *testing.T) {
			vhdxImg := filepath.Join(t.TempDir(), "disk.vhdx")
			disktest.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic,block_size=8M", raw, vhdxImg)
			got := partsJSONOf(t, vhdxImg)
			checkPartsAgainstTools(t, got, raw, 8*mib)
			for _, p := range got.Partitions {
				if !p.Extended && p.Number != 4 && p.Filesystem == nil {
					t.Errorf("partition %d: no filesystem found", p.Number)
				}
			}
			qcowImg := filepath.Join(t.TempDir(), "disk.qcow2")
			disktest.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=64k", raw, qcowImg)
			checkPartsAgainstTools(t, partsJSONOf(t, qcowImg), raw, 64<<10)
			checkPartsAgainstTools(t, partsJSONOf(t, raw), raw, 0)
		})
	}
}

// TestPartsLVM puts an LVM2 physical volume (laid out as LVM does; see
// disktest.BuildPV) in an MBR partition, with an ext4 filesystem in its
// linear LV and a FAT one split across the two segments of another: parts
// must find both, as blkid reads the images mkfs made.
func TestPartsLVM(t *testing.T) {
	disktest.Need(t, "sfdisk", "blkid")
	raw := disktest.Sparse(t, "lvm.img", 64*mib)
	disktest.RunInput(t, "label: dos\nstart=2048, size=65536, type=8e\n", "sfdisk", "-q", raw)
	pvFile, _ := disktest.BuildPV(t)
	place(t, raw, 1*mib, pvFile)
	pv := int64(1*mib + disktest.PVPEStart) // disk offset of PV extent 0
	ext := int64(disktest.PVExtent)
	root := fsImage(t, 4*ext, "mkfs.ext4", "-q", "-F", "-L", "lvroot")
	place(t, raw, pv, root)
	// LV data: extents 0-1 on PV extents 10-11, extents 2-4 on PV extents 4-6.
	data := fsImage(t, 5*ext, "mkfs.vfat", "-n", "LVDATA")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []struct{ lv, pv, n int64 }{{0, 10, 2}, {2, 4, 3}} {
		f := filepath.Join(t.TempDir(), "piece")
		if err := os.WriteFile(f, b[piece.lv*ext:(piece.lv+piece.n)*ext], 0o644); err != nil {
			t.Fatal(err)
		}
		place(t, raw, pv+piece.pv*ext, f)
	}
	got := partsJSONOf(t, raw)
	if len(got.Partitions) != 1 || got.Partitions[0].LVM == nil {
		t.Fatalf("%+v", got)
	}
	l := got.Partitions[0].LVM
	if l.VolumeGroup != "testvg" || len(l.LogicalVolumes) != 4 || got.Partitions[0].Filesystem.Type != "lvm2" {
		t.Fatalf("LVM %+v", l)
	}
	for name, img := range map[string]string{"root": root, "data": data} {
		b := map[string]string{}
		for _, tag := range []string{"LABEL", "UUID"} {
			b[tag] = strings.TrimSpace(disktest.Run(t, "blkid", "-p", "-o", "value", "-s", tag, img))
		}
		var found bool
		for _, lv := range l.LogicalVolumes {
			if lv.Name != name {
				continue
			}
			found = true
			if lv.Filesystem == nil || lv.Filesystem.Label != b["LABEL"] || lv.Filesystem.UUID != b["UUID"] {
				t.Errorf("LV %s: filesystem %+v (%s), blkid of the image %v", name, lv.Filesystem, lv.Error, b)
			}
		}
		if !found {
			t.Errorf("no LV %s", name)
		}
	}
	if lv := l.LogicalVolumes[0]; len(lv.Extents) != 1 || lv.Extents[0].DiskOffset != pv {
		t.Errorf("LV root extents %+v, want one at %d", lv.Extents, pv)
	}
	if lv := l.LogicalVolumes[3]; lv.Error == "" {
		t.Errorf("the thin pool reads as %+v", lv)
	}
	if text := string(mustSucceed(t, "parts", raw)); !strings.Contains(text, "volume group testvg") || !strings.Contains(text, "LV root") {
		t.Errorf("parts text lacks the volume group:\n%s", text)
	}
}
