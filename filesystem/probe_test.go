package filesystem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// blkid returns blkid's low-level probe of a file as a map.
func blkid(t testing.TB, path string) map[string]string {
	out := disktest.Run(t, "blkid", "-p", "-o", "export", path)
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			m[k] = strings.ReplaceAll(v, `\ `, " ")
		}
	}
	// export escapes bytes outside ASCII; value prints the label as it is.
	if _, ok := m["LABEL"]; ok {
		m["LABEL"] = strings.TrimSuffix(disktest.Run(t, "blkid", "-p", "-o", "value", "-s", "LABEL", path), "\n")
	}
	return m
}

// probeFile probes a whole file.
func probeFile(t *testing.T, path string) *Info {
	t.Helper()
	f, size := disktest.Open(t, path)
	info, err := Probe(f, size)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// number finds the first integer after pattern in text.
func number(t testing.TB, text, pattern string) int64 {
	t.Helper()
	m := regexp.MustCompile(pattern + `\s*(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %q in:\n%s", pattern, text)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// blkidTypes maps our types to blkid's TYPE (and VERSION for FAT).
var blkidTypes = map[string][2]string{
	TypeExt2: {"ext2"}, TypeExt3: {"ext3"}, TypeExt4: {"ext4"}, TypeXFS: {"xfs"},
	TypeBtrfs: {"btrfs"}, TypeSwap: {"swap"}, TypeISO9660: {"iso9660"}, TypeNTFS: {"ntfs"},
	TypeExFAT: {"exfat"}, TypeFAT12: {"vfat", "FAT12"}, TypeFAT16: {"vfat", "FAT16"},
	TypeFAT32: {"vfat", "FAT32"}, TypeLVM2: {"LVM2_member"}, TypeLUKS: {"crypto_LUKS"},
}

// fsCase makes one filesystem image and checks size and used space
// against the filesystem's own tools.
type fsCase struct {
	name string
	size int64
	make func(t testing.TB, path string)
	// check compares size, block size and used space with an independent
	// tool's reading of the image.
	check func(t testing.TB, path string, info *Info)
}

func mkfs(tool string, args ...string) func(testing.TB, string) {
	return func(t testing.TB, path string) {
		disktest.Need(t, tool)
		disktest.Run(t, tool, append(args, path)...)
	}
}

func checkExt(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "dumpe2fs", "-h", path)
	bs := number(t, out, `Block size:`)
	want(t, "block size", info.BlockSize, bs)
	want(t, "size", info.Size, number(t, out, `Block count:`)*bs)
	want(t, "used", info.Used, (number(t, out, `Block count:`)-number(t, out, `Free blocks:`))*bs)
}

func checkXFS(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "xfs_db", "-r", "-c", "sb 0", "-c", "print dblocks fdblocks blocksize", path)
	bs := number(t, out, `blocksize =`)
	want(t, "block size", info.BlockSize, bs)
	want(t, "size", info.Size, number(t, out, `dblocks =`)*bs)
	want(t, "used", info.Used, (number(t, out, `dblocks =`)-number(t, out, `fdblocks =`))*bs)
}

func checkBtrfs(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "btrfs", "inspect-internal", "dump-super", path)
	want(t, "block size", info.BlockSize, number(t, out, `\nsectorsize`))
	want(t, "size", info.Size, number(t, out, `\ntotal_bytes`))
	want(t, "used", info.Used, number(t, out, `\nbytes_used`))
}

func checkNTFS(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "fsstat", "-f", "ntfs", path)
	sector := number(t, out, `Sector Size:`)
	want(t, "block size", info.BlockSize, number(t, out, `Cluster Size:`))
	want(t, "size", info.Size, (number(t, out, `Total Sector Range: 0 -`)+1)*sector)
	free := number(t, disktest.Run(t, "ntfsinfo", "-m", "-f", path), `Free Clusters:`)
	want(t, "used", info.Used, info.Size-free*info.BlockSize)
}

func checkFAT(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "fsstat", "-f", "fat", path)
	sector := number(t, out, `Sector Size:`)
	cluster := number(t, out, `Cluster Size:`)
	want(t, "block size", info.BlockSize, cluster)
	want(t, "size", info.Size, (number(t, out, `Total Range: 0 -`)+1)*sector)
	// fsck.fat -v ends with "N files, USED/TOTAL clusters".
	m := regexp.MustCompile(`(\d+)/(\d+) clusters`).FindStringSubmatch(disktest.Run(t, "fsck.fat", "-n", "-v", path))
	if m == nil {
		t.Fatal("fsck.fat printed no cluster count")
	}
	used, _ := strconv.ParseInt(m[1], 10, 64)
	total, _ := strconv.ParseInt(m[2], 10, 64)
	want(t, "used", info.Used, info.Size-(total-used)*cluster)
}

func checkExFAT(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "dump.exfat", path)
	cluster := number(t, out, `Cluster size:`)
	want(t, "block size", info.BlockSize, cluster)
	want(t, "size", info.Size, number(t, out, `Volume Length\(sectors\):`)*512)
	want(t, "used", info.Used, info.Size-number(t, out, `Free Clusters:`)*cluster)
}

func checkSwap(t testing.TB, path string, info *Info) {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "size", info.Size, st.Size()) // mkswap uses the whole file
	want(t, "block size", info.BlockSize, int64(os.Getpagesize()))
}

func checkISO(t testing.TB, path string, info *Info) {
	out := disktest.Run(t, "xorriso", "-indev", path, "-pvd_info")
	want(t, "size", info.Size, number(t, out, `1 session,`)*2048)
	want(t, "block size", info.BlockSize, 2048)
}

func want(t testing.TB, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

func makeISO(t testing.TB, path string) {
	disktest.Need(t, "xorriso")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	disktest.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-J", "-V", "Probe ISO", "-o", path, dir)
}

// makeNTFSFiles makes an NTFS volume and copies a 3 MiB file into it, so
// that more than the metadata is in use.
func makeNTFSFiles(t testing.TB, path string) {
	disktest.Need(t, "mkntfs", "ntfscp")
	disktest.Run(t, "mkntfs", "-F", "-Q", "-q", "-L", "with files", path)
	f := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(f, bytes.Repeat([]byte("ntfs data "), 300<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	disktest.Run(t, "ntfscp", path, f, "data.bin")
}

// makeFATFiles makes a FAT32 volume and copies a 3 MiB file into it with
// mtools.
func makeFATFiles(t testing.TB, path string) {
	disktest.Need(t, "mkfs.vfat", "mcopy")
	disktest.Run(t, "mkfs.vfat", "-F", "32", "-n", "FILES", path)
	f := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(f, bytes.Repeat([]byte("fat data "), 350<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	disktest.Run(t, "mcopy", "-i", path, f, "::data.bin")
}

func makeSwap(t testing.TB, path string) {
	disktest.Need(t, "mkswap")
	disktest.Run(t, "mkswap", "-L", "swap läbel", path)
}

func makeLUKS(args ...string) func(testing.TB, string) {
	return func(t testing.TB, path string) {
		disktest.Need(t, "cryptsetup")
		disktest.RunInput(t, "passphrase", "cryptsetup", append(append([]string{"luksFormat", "--batch-mode", "--pbkdf-force-iterations", "1000"}, args...), path, "-")...)
	}
}

// checkLUKS: a container's size is its range's.
func checkLUKS(t testing.TB, path string, info *Info) {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "size", info.Size, st.Size())
	if !info.Container {
		t.Error("LUKS is a container")
	}
}

// imageDir holds the images the cases make, once per test process: the
// tests and the fuzzer's seeds share them.
var (
	imageDir string
	images   sync.Map // case name -> *madeImage
)

type madeImage struct {
	once sync.Once
	path string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "filesystem-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	imageDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// image makes the case's filesystem on first use and returns its path.
func (c fsCase) image(t testing.TB) string {
	t.Helper()
	v, _ := images.LoadOrStore(c.name, &madeImage{})
	mi := v.(*madeImage)
	mi.once.Do(func() {
		path := filepath.Join(imageDir, c.name+".img")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, max(c.size, 1)); err != nil {
			t.Fatal(err)
		}
		c.make(t, path)
		mi.path = path
	})
	if mi.path == "" {
		t.Fatalf("making %s failed earlier", c.name)
	}
	return mi.path
}

var fsCases = []fsCase{
	{"ext2", 64 << 20, mkfs("mkfs.ext2", "-q", "-F", "-L", "ext2 label"), checkExt},
	{"ext3", 64 << 20, mkfs("mkfs.ext3", "-q", "-F", "-L", "ext3"), checkExt},
	{"ext4", 300 << 20, mkfs("mkfs.ext4", "-q", "-F", "-L", "ext4-label"), checkExt},
	{"ext4-64bit", 300 << 20, mkfs("mkfs.ext4", "-q", "-F", "-O", "64bit,metadata_csum,inline_data", "-b", "4096"), checkExt},
	{"xfs", 300 << 20, mkfs("mkfs.xfs", "-q", "-f", "-L", "xfslabel"), checkXFS},
	{"xfs-v4", 300 << 20, mkfs("mkfs.xfs", "-q", "-f", "-m", "crc=0", "-L", "v4"), checkXFS},
	{"btrfs", 300 << 20, mkfs("mkfs.btrfs", "-q", "-f", "-L", "btrfs label"), checkBtrfs},
	{"ntfs", 64 << 20, mkfs("mkntfs", "-F", "-Q", "-q", "-L", "NTFS Läbel"), checkNTFS},
	{"ntfs-files", 64 << 20, makeNTFSFiles, checkNTFS},
	{"ntfs-64k", 64 << 20, mkfs("mkntfs", "-F", "-Q", "-q", "-c", "65536", "-L", "big clusters"), checkNTFS},
	{"fat12", 4 << 20, mkfs("mkfs.vfat", "-F", "12", "-n", "FAT12LBL"), checkFAT},
	{"fat16", 64 << 20, mkfs("mkfs.vfat", "-F", "16", "-n", "FAT16 LBL"), checkFAT},
	{"fat32", 300 << 20, mkfs("mkfs.vfat", "-F", "32", "-n", "FAT32LABEL"), checkFAT},
	{"fat32-files", 300 << 20, makeFATFiles, checkFAT},
	{"fat32-nolabel", 300 << 20, mkfs("mkfs.vfat", "-F", "32", "-S", "4096"), checkFAT},
	{"exfat", 300 << 20, mkfs("mkfs.exfat", "-L", "exFAT Läbel"), checkExFAT},
	{"exfat-4k", 64 << 20, mkfs("mkfs.exfat", "-c", "4096"), checkExFAT},
	{"swap", 64 << 20, makeSwap, checkSwap},
	{"iso9660", 0, makeISO, checkISO},
	{"luks1", 16 << 20, makeLUKS("--type", "luks1"), checkLUKS},
	{"luks2", 32 << 20, makeLUKS("--type", "luks2", "--pbkdf", "pbkdf2", "--label", "secret"), checkLUKS},
}

// TestProbeAgainstBlkid makes each filesystem with its own mkfs and checks
// type, label and UUID against blkid, and sizes against the filesystem's
// tools.
func TestProbeAgainstBlkid(t *testing.T) {
	disktest.Need(t, "blkid")
	for _, c := range fsCases {
		t.Run(c.name, func(t *testing.T) {
			path := c.image(t)
			info := probeFile(t, path)
			b := blkid(t, path)
			bt, ok := blkidTypes[info.Type]
			if !ok || bt[0] != b["TYPE"] || (bt[1] != "" && bt[1] != b["VERSION"]) {
				t.Fatalf("type %q, blkid says TYPE=%q VERSION=%q", info.Type, b["TYPE"], b["VERSION"])
			}
			if info.Label != b["LABEL"] {
				t.Errorf("label %q, blkid says %q", info.Label, b["LABEL"])
			}
			if info.UUID != b["UUID"] {
				t.Errorf("UUID %q, blkid says %q", info.UUID, b["UUID"])
			}
			if len(info.Fields) == 0 {
				t.Error("no fields")
			}
			c.check(t, path, info)
		})
	}
}
