package partition

import (
	"fmt"
	"hash/crc32"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// mmlsPart is a partition row of mmls: start, length (sectors) and
// description.
type mmlsPart struct {
	Start, Length int64
	Desc          string
}

var mmlsRow = regexp.MustCompile(`(?m)^\d+:[ \t]+(\d+(?::\d+)?)[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]*(.*)$`)

// mmls lists the partitions The Sleuth Kit finds (Meta and Unallocated
// rows left out).
func mmls(t *testing.T, path string, sector int) []mmlsPart {
	t.Helper()
	out := disktest.Run(t, "mmls", "-b", fmt.Sprint(sector), path)
	var parts []mmlsPart
	for _, m := range mmlsRow.FindAllStringSubmatch(out, -1) {
		start, _ := strconv.ParseInt(m[2], 10, 64)
		length, _ := strconv.ParseInt(m[4], 10, 64)
		parts = append(parts, mmlsPart{start, length, strings.TrimSpace(m[5])})
	}
	return parts
}

func readTable(t *testing.T, path string, sector int) *Table {
	t.Helper()
	f, size := disktest.Open(t, path)
	tab, err := Read(f, size, sector)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// checkAgainstSfdisk compares every partition with sfdisk's reading.
func checkAgainstSfdisk(t *testing.T, tab *Table, st disktest.SfdiskTable) {
	t.Helper()
	pt := st.PartitionTable
	if want := map[string]string{"dos": SchemeMBR, "gpt": SchemeGPT}[pt.Label]; tab.Scheme != want {
		t.Errorf("scheme %q, sfdisk says %q", tab.Scheme, pt.Label)
	}
	if len(tab.Partitions) != len(pt.Partitions) {
		t.Fatalf("%d partitions, sfdisk lists %d", len(tab.Partitions), len(pt.Partitions))
	}
	for i, sp := range pt.Partitions {
		p := tab.Partitions[i]
		num, _ := strconv.Atoi(strings.TrimPrefix(sp.Node, pt.Device))
		if p.Number != num || p.StartSector != sp.Start || p.Sectors != sp.Size {
			t.Errorf("partition %d at %d (%d sectors), sfdisk: %s at %d (%d)", p.Number, p.StartSector, p.Sectors, sp.Node, sp.Start, sp.Size)
		}
		if p.Start != sp.Start*int64(pt.SectorSize) || p.Length != sp.Size*int64(pt.SectorSize) {
			t.Errorf("partition %d: bytes %d+%d", p.Number, p.Start, p.Length)
		}
		switch tab.Scheme {
		case SchemeMBR:
			typ, _ := strconv.ParseUint(sp.Type, 16, 8)
			if p.Type != fmt.Sprintf("0x%02x", typ) || p.Bootable != sp.Bootable {
				t.Errorf("partition %d: type %s bootable %t, sfdisk: %s %t", p.Number, p.Type, p.Bootable, sp.Type, sp.Bootable)
			}
		case SchemeGPT:
			if p.Type != sp.Type || p.GUID != sp.UUID || p.Name != sp.Name || strings.Join(p.AttributeNames, " ") != sp.Attrs {
				t.Errorf("partition %d: %s %s %q %q, sfdisk: %s %s %q %q", p.Number, p.Type, p.GUID, p.Name, p.AttributeNames, sp.Type, sp.UUID, sp.Name, sp.Attrs)
			}
		}
	}
}

// checkAgainstMmls compares the data partitions (not extended ones) with
// The Sleuth Kit's.
func checkAgainstMmls(t *testing.T, tab *Table, path string) {
	t.Helper()
	var got, want []string
	for _, p := range tab.Partitions {
		if !p.Extended {
			got = append(got, fmt.Sprintf("%d+%d", p.StartSector, p.Sectors))
		}
	}
	for _, m := range mmls(t, path, tab.SectorSize) {
		want = append(want, fmt.Sprintf("%d+%d", m.Start, m.Length))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("partitions %v, mmls %v", got, want)
	}
}

const mbrScript = `label: dos
start=2048, size=4096, type=83, bootable
start=8192, size=4096, type=7
start=16384, size=40960, type=5
start=65536, size=2048, type=c
size=4096, type=83
size=4096, type=82
size=4096, type=8e
`

func makeMBR(t *testing.T) string {
	disktest.Need(t, "sfdisk")
	path := disktest.Sparse(t, "mbr.img", 64<<20)
	disktest.RunInput(t, mbrScript, "sfdisk", "-q", path)
	return path
}

func TestMBRLogical(t *testing.T) {
	disktest.Need(t, "mmls")
	path := makeMBR(t)
	tab := readTable(t, path, 512)
	checkAgainstSfdisk(t, tab, disktest.Sfdisk(t, path))
	checkAgainstMmls(t, tab, path)
	if len(tab.EBRs) != 3 {
		t.Errorf("%d EBRs, want 3", len(tab.EBRs))
	}
	if len(tab.Findings) != 0 {
		t.Errorf("findings: %+v", tab.Findings)
	}
	names := map[int]string{1: "Linux", 2: "NTFS/exFAT/HPFS", 3: "Extended", 6: "Linux swap / Solaris", 7: "Linux LVM"}
	for _, p := range tab.Partitions {
		if n, ok := names[p.Number]; ok && p.TypeName != n {
			t.Errorf("partition %d type name %q, want %q", p.Number, p.TypeName, n)
		}
	}
	checkFields(t, tab, path)
}

// gptArgs makes a GPT with names (one not ASCII), attributes, several
// types and a gap in the entry indexes.
var gptArgs = []string{
	"-n", "1:2048:+1M", "-t", "1:ef00", "-c", "1:EFI System",
	"-n", "2:0:+2M", "-t", "2:0c01",
	"-n", "3:0:+4M", "-t", "3:0700", "-c", "3:Données", "-A", "3:set:63", "-A", "3:set:60",
	"-n", "4:0:+4M", "-t", "4:8300", "-A", "4:set:0", "-A", "4:set:2",
	"-n", "5:0:+1M", "-t", "5:8200",
	"-n", "7:0:+1M", "-t", "7:8e00", "-c", "7:lvm",
}

func makeGPT(t *testing.T) string {
	disktest.Need(t, "sgdisk")
	path := disktest.Sparse(t, "gpt.img", 64<<20)
	disktest.Run(t, "sgdisk", append(gptArgs, path)...)
	return path
}

func TestGPT(t *testing.T) {
	disktest.Need(t, "mmls", "sfdisk")
	path := makeGPT(t)
	tab := readTable(t, path, 512)
	st := disktest.Sfdisk(t, path)
	checkAgainstSfdisk(t, tab, st)
	checkAgainstMmls(t, tab, path)
	if len(tab.Findings) != 0 {
		t.Errorf("findings: %+v", tab.Findings)
	}
	if tab.MBR == nil || tab.MBR.Entries[0].Type != mbrTypeGPT || tab.GPT.UsedBackup {
		t.Errorf("protective MBR %+v, used backup %t", tab.MBR, tab.GPT.UsedBackup)
	}
	want := map[int]string{1: "EFI System", 2: "Microsoft reserved", 3: "Microsoft basic data", 4: "Linux filesystem", 5: "Linux swap", 7: "Linux LVM"}
	for _, p := range tab.Partitions {
		if p.TypeName != want[p.Number] {
			t.Errorf("partition %d type name %q, want %q", p.Number, p.TypeName, want[p.Number])
		}
	}
	checkFields(t, tab, path)
}

// corrupt flips one byte of the file at off.
func corrupt(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestGPTBackup corrupts the primary header, then the primary entries
// array: the partitions come from the backup, as sfdisk read them before
// the damage, and a finding names the primary header.
func TestGPTBackup(t *testing.T) {
	for _, c := range []struct {
		name string
		off  int64
	}{{"header", 512 + 60}, {"entries", 1024 + 130}, {"signature", 512}} {
		t.Run(c.name, func(t *testing.T) {
			path := makeGPT(t)
			before := disktest.Sfdisk(t, path)
			corrupt(t, path, c.off)
			tab := readTable(t, path, 512)
			checkAgainstSfdisk(t, tab, before)
			if !tab.GPT.UsedBackup || tab.GPT.Primary.Valid() {
				t.Fatalf("used backup %t, primary problem %q", tab.GPT.UsedBackup, tab.GPT.Primary.Problem)
			}
			if len(tab.Findings) != 1 || tab.Findings[0].Code != "gpt.primary_invalid" || !strings.Contains(tab.Findings[0].Message, "backup header at LBA 131071") {
				t.Errorf("findings %+v", tab.Findings)
			}
		})
	}
}

// TestGPTBackupMissing cuts the disk short: the backup is gone, which is
// reported, and the primary is used.
func TestGPTBackupMissing(t *testing.T) {
	path := makeGPT(t)
	before := disktest.Sfdisk(t, path)
	if err := os.Truncate(path, 63<<20); err != nil {
		t.Fatal(err)
	}
	tab := readTable(t, path, 512)
	checkAgainstSfdisk(t, tab, before)
	codes := findingCodes(tab)
	if !slices.Equal(codes, []string{"gpt.usable_beyond_end", "gpt.alternate_lba", "gpt.backup_invalid"}) {
		t.Errorf("findings %+v", tab.Findings)
	}
}

func findingCodes(tab *Table) []string {
	var c []string
	for _, f := range tab.Findings {
		c = append(c, f.Code)
	}
	return c
}

// rewriteHeader changes the primary GPT header with fn and fixes its CRC.
func rewriteHeader(t *testing.T, path string, fn func(h []byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := make([]byte, 92)
	if _, err := f.ReadAt(h, 512); err != nil {
		t.Fatal(err)
	}
	fn(h)
	clear(h[16:20])
	putLE32(h[16:], crc32.ChecksumIEEE(h))
	if _, err := f.WriteAt(h, 512); err != nil {
		t.Fatal(err)
	}
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// TestGPTHugeEntries claims four billion entries of 4 GiB in a header
// with a correct CRC: rejected without reading, the backup used.
func TestGPTHugeEntries(t *testing.T) {
	path := makeGPT(t)
	rewriteHeader(t, path, func(h []byte) {
		putLE32(h[80:], 0xffffffff)
		putLE32(h[84:], 0xfffffff8)
	})
	tab := readTable(t, path, 512)
	if !tab.GPT.UsedBackup || !strings.Contains(tab.GPT.Primary.Problem, "exceeds") {
		t.Fatalf("primary problem %q", tab.GPT.Primary.Problem)
	}
}

// TestEBRLoop points the last EBR's link back at the first: the chain
// stops with a finding.
func TestEBRLoop(t *testing.T) {
	path := makeMBR(t)
	tab := readTable(t, path, 512)
	last := tab.EBRs[len(tab.EBRs)-1]
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Second entry: type 0x05, first LBA 0 (relative to the extended
	// partition: the first EBR), one sector.
	entry := []byte{0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	if _, err := f.WriteAt(entry, last.Offset+446+16); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tab = readTable(t, path, 512)
	if len(tab.Partitions) != 7 || !slices.Equal(findingCodes(tab), []string{"ebr.loop"}) {
		t.Errorf("%d partitions, findings %+v", len(tab.Partitions), tab.Findings)
	}
}

// checkFields checks that each field lies on the disk and that the
// signature and entry fields are where sfdisk and mmls found them.
func checkFields(t *testing.T, tab *Table, path string) {
	t.Helper()
	disk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sigs int
	for _, f := range tab.Fields() {
		if f.Offset < 0 || f.Offset+f.Length > int64(len(disk)) {
			t.Fatalf("field %+v off the disk", f)
		}
		if f.Name == "signature" && f.Length == 2 {
			sigs++
			if disk[f.Offset] != 0x55 || disk[f.Offset+1] != 0xaa {
				t.Errorf("%s signature at %#x is % x", f.Structure, f.Offset, disk[f.Offset:f.Offset+2])
			}
		}
		if f.Name == "signature" && f.Length == 8 && string(disk[f.Offset:f.Offset+8]) != "EFI PART" {
			t.Errorf("GPT signature field at %#x", f.Offset)
		}
	}
	if want := 1 + len(tab.EBRs); sigs != want {
		t.Errorf("%d 55 aa signatures, want %d", sigs, want)
	}
}

// TestNoTable: a filesystem made on the whole disk is partition 0; an
// empty disk has no partition.
func TestNoTable(t *testing.T) {
	for _, c := range []struct {
		name string
		mkfs []string
	}{{"ext4", []string{"mkfs.ext4", "-q", "-F"}}, {"vfat", []string{"mkfs.vfat"}}, {"exfat", []string{"mkfs.exfat"}}, {"ntfs", []string{"mkntfs", "-F", "-Q", "-q"}}} {
		t.Run(c.name, func(t *testing.T) {
			disktest.Need(t, c.mkfs[0])
			path := disktest.Sparse(t, "whole.img", 64<<20)
			disktest.Run(t, c.mkfs[0], append(c.mkfs[1:], path)...)
			tab := readTable(t, path, 512)
			if tab.Scheme != SchemeNone || len(tab.Partitions) != 1 || tab.Partitions[0].Number != 0 || tab.Partitions[0].Length != 64<<20 {
				t.Fatalf("scheme %q, partitions %+v", tab.Scheme, tab.Partitions)
			}
		})
	}
	tab := readTable(t, disktest.Sparse(t, "empty.img", 1<<20), 512)
	if tab.Scheme != SchemeNone || len(tab.Partitions) != 0 {
		t.Fatalf("empty disk: %+v", tab)
	}
}

// TestGPTEntryHuge gives entry 1 a last LBA near 2^62 in a header with
// correct CRCs: the entry is reported, not turned into a partition whose
// end overflows.
func TestGPTEntryHuge(t *testing.T) {
	path := makeGPT(t)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]byte, 128*128)
	if _, err := f.ReadAt(entries, 1024); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		entries[40+i] = 0xff
	}
	entries[47] = 0x3f
	if _, err := f.WriteAt(entries, 1024); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rewriteHeader(t, path, func(h []byte) { putLE32(h[88:], crc32.ChecksumIEEE(entries)) })
	tab := readTable(t, path, 512)
	if tab.GPT.UsedBackup || len(tab.Partitions) != 5 || tab.Partitions[0].Number != 2 || !slices.Contains(findingCodes(tab), "gpt.entry_range") {
		t.Fatalf("%d partitions, findings %+v", len(tab.Partitions), tab.Findings)
	}
}
