package partition

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"slices"
	"testing"
	"unicode/utf16"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// writeGPT4K lays out a GPT for 4096-byte sectors on a 16 MiB disk (no
// tool here writes one to a file): a protective MBR, both headers and
// both entries arrays, with two partitions.
func writeGPT4K(t *testing.T) string {
	const sector, sectors = 4096, 4096
	disk := make([]byte, sector*sectors)
	le := binary.LittleEndian
	pe := disk[446:]
	pe[4] = 0xee
	le.PutUint32(pe[8:], 1)
	le.PutUint32(pe[12:], sectors-1)
	le.PutUint16(disk[510:], 0xaa55)

	entries := make([]byte, 128*128)
	type part struct {
		first, last uint64
		typ         []byte // GUID as stored
		name        string
	}
	linux := []byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}
	efi := []byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}
	for i, p := range []part{{256, 511, efi, "ESP"}, {512, 2047, linux, "root"}} {
		e := entries[i*128:]
		copy(e, p.typ)
		e[16], e[31] = byte(i+1), 0x42 // a unique GUID
		le.PutUint64(e[32:], p.first)
		le.PutUint64(e[40:], p.last)
		for j, c := range utf16.Encode([]rune(p.name)) {
			le.PutUint16(e[56+2*j:], c)
		}
	}
	header := func(my, alt, entriesLBA uint64) {
		h := disk[my*sector:]
		copy(h, "EFI PART")
		le.PutUint32(h[8:], 0x10000)
		le.PutUint32(h[12:], 92)
		le.PutUint64(h[24:], my)
		le.PutUint64(h[32:], alt)
		le.PutUint64(h[40:], 6)
		le.PutUint64(h[48:], sectors-6)
		h[56] = 7 // disk GUID
		le.PutUint64(h[72:], entriesLBA)
		le.PutUint32(h[80:], 128)
		le.PutUint32(h[84:], 128)
		le.PutUint32(h[88:], crc32.ChecksumIEEE(entries))
		le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		copy(disk[entriesLBA*sector:], entries)
	}
	header(1, sectors-1, 2)
	header(sectors-1, 1, sectors-5)
	path := disktest.Sparse(t, "gpt4k.img", 0)
	if err := os.WriteFile(path, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGPT4K reads a GPT with 4096-byte sectors and compares it with The
// Sleuth Kit's mmls -b 4096.
func TestGPT4K(t *testing.T) {
	disktest.Need(t, "mmls")
	path := writeGPT4K(t)
	tab := readTable(t, path, 4096)
	if tab.Scheme != SchemeGPT || len(tab.Partitions) != 2 || len(tab.Findings) != 0 {
		t.Fatalf("scheme %s, %d partitions, findings %+v", tab.Scheme, len(tab.Partitions), tab.Findings)
	}
	checkAgainstMmls(t, tab, path)
	if p := tab.Partitions[1]; p.Start != 512*4096 || p.Length != 1536*4096 || p.Name != "root" || p.TypeName != "Linux filesystem" {
		t.Errorf("partition 2: %+v", p)
	}
	// Read with 512-byte sectors, the same disk shows only its protective MBR.
	// Read with 512-byte sectors, the same disk shows only its protective
	// MBR, and a finding points at the sector size.
	if tab := readTable(t, path, 512); tab.Scheme != SchemeGPT || len(tab.Partitions) != 0 || !slices.Contains(findingCodes(tab), "gpt.sector_size") {
		t.Errorf("as 512-byte sectors: %s with %d partitions, findings %+v", tab.Scheme, len(tab.Partitions), tab.Findings)
	}
}
