package xfs

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// TestBtreeBlockMap rewrites the block map of /big.bin (one extent, as
// mkfs.xfs wrote it) as a B+tree: a root in the inode pointing to a leaf
// block, in the last block of the last allocation group, that holds the
// same blocks as three extents. No Debian tool fragments a file without
// mounting. The bytes read, directly and at the extents, must still be the
// source's, on v5 (BMA3 blocks) and v4 (BMAP blocks).
func TestBtreeBlockMap(t *testing.T) {
	disktest.Need(t, "mkfs.xfs")
	for _, crc := range []string{"1", "0"} {
		t.Run("crc="+crc, func(t *testing.T) {
			img, src := makeImage(t, crc)
			r, size := disktest.Open(t, img)
			fsys, err := Open(r, size)
			if err != nil {
				t.Fatal(err)
			}
			e, err := fsys.Stat("/big.bin")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.ParseUint(e.ID, 10, 64)
			ino, err := fsys.inode(n)
			if err != nil || ino.Format != formatExtents || ino.NExtents != 1 {
				t.Fatalf("inode %d: format %d, %d extents, %v", n, ino.Format, ino.NExtents, err)
			}
			one := decodeExtent(ino.Fork)
			parts := []extent{
				{0, one.StartBlock, 100, false},
				{100, one.StartBlock + 100, 250, false},
				{350, one.StartBlock + 350, one.Count - 350, false},
			}
			sb := fsys.sb
			leaf := uint64(sb.AGCount-1)<<sb.AGBlkLog | uint64(sb.AGBlocks-1)
			leafOff, _ := fsys.fsbOffset(leaf)

			img2 := make([]byte, size)
			if _, err := r.ReadAt(img2, 0); err != nil {
				t.Fatal(err)
			}
			be := binary.BigEndian
			blk := img2[leafOff : leafOff+int64(sb.BlockSize)]
			clear(blk)
			hdr := 24
			copy(blk, "BMAP")
			if sb.V5() {
				hdr = 72
				copy(blk, "BMA3")
			}
			be.PutUint16(blk[4:], 0)
			be.PutUint16(blk[6:], uint16(len(parts)))
			be.PutUint64(blk[8:], ^uint64(0))
			be.PutUint64(blk[16:], ^uint64(0))
			for i, x := range parts {
				encodeExtent(blk[hdr+16*i:], x)
			}
			inode := img2[ino.Offset : ino.Offset+int64(sb.InodeSize)]
			inode[5] = formatBtree
			be.PutUint32(inode[76:], uint32(len(parts)))
			fork := inode[len(inode)-len(ino.Fork):]
			clear(fork)
			max := (len(fork) - 4) / 16
			be.PutUint16(fork[0:], 1) // level
			be.PutUint16(fork[2:], 1) // records
			be.PutUint64(fork[4:], 0) // key: first file block
			be.PutUint64(fork[4+8*max:], leaf)

			fsys2, err := Open(bytes.NewReader(img2), size)
			if err != nil {
				t.Fatal(err)
			}
			f, err := fsys2.Open("/big.bin")
			if err != nil {
				t.Fatal(err)
			}
			want := fstest.SHA256Bytes(src.files["/big.bin"])
			if h := fstest.SHA256(t, f); h != want {
				t.Errorf("through the B+tree: sha256 %s, want %s", h, want)
			}
			ext, err := fsys2.Extents("/big.bin")
			if err != nil || len(ext) != len(parts) {
				t.Fatalf("extents %v, %v", ext, err)
			}
			if h := fstest.ExtentsSHA256(t, bytes.NewReader(img2), 0, ext, e.Size); h != want {
				t.Errorf("bytes at extents %v: %s, want %s", ext, h, want)
			}
		})
	}
}

// encodeExtent packs an extent record (the inverse of decodeExtent).
func encodeExtent(b []byte, e extent) {
	hi := e.StartOff<<9 | e.StartBlock>>43
	if e.Unwritten {
		hi |= 1 << 63
	}
	binary.BigEndian.PutUint64(b, hi)
	binary.BigEndian.PutUint64(b[8:], e.StartBlock<<21|e.Count)
}
