package fat

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// exfatBuilder adds files and directories to an image made by mkfs.exfat:
// no Debian tool writes into exFAT without mounting. fsck.exfat checks the
// result before The Sleuth Kit reads it.
type exfatBuilder struct {
	t       *testing.T
	img     []byte
	cs      int64
	heap    int64
	fat     int64
	bitmap  int64 // byte offset of the allocation bitmap
	next    uint32
	cluster func(c uint32) int64
}

// dirCursor is where the next entry set of a directory goes.
type dirCursor struct{ off int64 }

func newExfatBuilder(t *testing.T, img []byte) (*exfatBuilder, *dirCursor) {
	le := binary.LittleEndian
	bps := int64(1) << img[108]
	b := &exfatBuilder{t: t, img: img, cs: bps << img[109], heap: int64(le.Uint32(img[88:])) * bps, fat: int64(le.Uint32(img[80:])) * bps}
	b.cluster = func(c uint32) int64 { return b.heap + int64(c-2)*b.cs }
	root := b.cluster(le.Uint32(img[96:]))
	free := int64(-1)
	for off := root; off < root+b.cs; off += 32 {
		switch img[off] {
		case 0x81:
			b.bitmap = b.cluster(le.Uint32(img[off+20:]))
		case 0:
			if free < 0 {
				free = off
			}
		}
	}
	for c := uint32(2); ; c++ {
		if img[b.bitmap+int64(c-2)/8]&(1<<((c-2)%8)) == 0 {
			b.next = c
			break
		}
	}
	if b.bitmap == 0 || free < 0 {
		t.Fatal("mkfs.exfat's root directory has no bitmap entry or no free slot")
	}
	return b, &dirCursor{free}
}

// alloc reserves n consecutive clusters (marked in the bitmap unless
// deleted), linked in the FAT when chained.
func (b *exfatBuilder) alloc(n int64, chained, deleted bool) uint32 {
	first := b.next
	for i := int64(0); i < n; i++ {
		c := first + uint32(i)
		if !deleted {
			b.img[b.bitmap+int64(c-2)/8] |= 1 << ((c - 2) % 8)
		}
		if chained && !deleted {
			next := c + 1
			if i == n-1 {
				next = 0xFFFFFFFF
			}
			binary.LittleEndian.PutUint32(b.img[b.fat+4*int64(c):], next)
		}
	}
	b.next += uint32(n)
	return first
}

// add writes an entry set for name in dir, its data in fresh clusters.
// attrs 0x10 makes a directory of one cluster and returns its cursor.
func (b *exfatBuilder) add(dir *dirCursor, name string, data []byte, attrs uint16, chained, deleted bool, created, modified, accessed uint32, utc byte) *dirCursor {
	le := binary.LittleEndian
	size := int64(len(data))
	if attrs&0x10 != 0 {
		size = b.cs
	}
	var first uint32
	if size > 0 {
		first = b.alloc((size+b.cs-1)/b.cs, chained, deleted)
		copy(b.img[b.cluster(first):], data)
	}
	u := utf16.Encode([]rune(name))
	names := (len(u) + 14) / 15
	set := make([]byte, 32*(2+names))
	set[0], set[1] = 0x85, byte(1+names)
	le.PutUint16(set[4:], attrs)
	le.PutUint32(set[8:], created)
	le.PutUint32(set[12:], modified)
	le.PutUint32(set[16:], accessed)
	set[20], set[21] = 123, 45
	set[22], set[23], set[24] = utc, utc, utc
	s := set[32:]
	s[0], s[1], s[3] = 0xC0, 0x01, byte(len(u))
	if !chained {
		s[1] |= 0x02 // NoFatChain
	}
	var hash uint16
	for _, c := range u {
		c = uint16(unicode.ToUpper(rune(c)))
		for _, x := range []byte{byte(c), byte(c >> 8)} {
			hash = (hash>>1 | hash<<15) + uint16(x)
		}
	}
	le.PutUint16(s[4:], hash)
	le.PutUint64(s[8:], uint64(size))
	le.PutUint32(s[20:], first)
	le.PutUint64(s[24:], uint64(size))
	for i := range names {
		e := set[64+32*i:]
		e[0] = 0xC1
		for j := 0; j < 15 && 15*i+j < len(u); j++ {
			le.PutUint16(e[2+2*j:], u[15*i+j])
		}
	}
	le.PutUint16(set[2:], setChecksum(set))
	if deleted {
		for i := 0; i < len(set); i += 32 {
			set[i] &^= 0x80
		}
	}
	copy(b.img[dir.off:], set)
	dir.off += int64(len(set))
	return &dirCursor{b.cluster(first)}
}

// TestExFATAgainstSleuthKit fills an exFAT image (contiguous and chained
// files, a directory, a long Unicode name, a deleted file, timestamps
// with 10 ms parts and UTC offsets) and compares it with fls and icat.
func TestExFATAgainstSleuthKit(t *testing.T) {
	disktest.Need(t, "mkfs.exfat", "fsck.exfat", "fls", "icat")
	img := filepath.Join(t.TempDir(), "exfat.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	disktest.Output(t, "mkfs.exfat", "-L", "TESTVOL", img)
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	b, root := newExfatBuilder(t, raw)
	ts := func(y, mo, d, h, mi, s int) uint32 {
		return uint32((y-1980)<<25|mo<<21|d<<16) | uint32(h<<11|mi<<5|s/2)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000)
	b.add(root, "hello.txt", []byte("hello exfat\n"), 0x20, false, false, ts(2024, 5, 6, 7, 8, 10), ts(2024, 5, 7, 8, 9, 12), ts(2024, 5, 8, 0, 0, 0), 0)
	b.add(root, "chained.bin", big, 0x20, true, false, ts(2023, 1, 2, 3, 4, 6), ts(2023, 2, 3, 4, 5, 8), ts(2023, 3, 4, 0, 0, 0), 0x80|8)
	sub := b.add(root, "Sub Dir", nil, 0x10, false, false, ts(2022, 12, 31, 23, 59, 58), ts(2022, 12, 31, 23, 59, 58), ts(2022, 12, 31, 0, 0, 0), 0x80|0x7C)
	b.add(sub, "a rather long ünïcødé name that needs three entries.txt", []byte("long"), 0x21, false, false, ts(2021, 6, 7, 8, 9, 10), ts(2021, 6, 7, 8, 9, 10), ts(2021, 6, 7, 0, 0, 0), 0)
	b.add(root, "gone.txt", []byte("deleted but here\n"), 0x20, false, true, ts(2020, 1, 1, 1, 1, 2), ts(2020, 1, 1, 1, 1, 2), ts(2020, 1, 1, 0, 0, 0), 0)
	if err := os.WriteFile(img, b.img, 0o644); err != nil {
		t.Fatal(err)
	}
	disktest.Output(t, "fsck.exfat", "-n", img)
	fsys := compare(t, img, 1, map[string]int64{"/chained.bin": 8 * 15 * 60, "/Sub Dir": -4 * 15 * 60})
	if fsys.Volume().Kind != ExFAT {
		t.Errorf("kind %s", fsys.Volume().Kind)
	}
}
