package vhdx

import (
	"bytes"
	"fmt"
	"testing"

	vb "github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
)

// Images built by internal/vhdxbuild hold what Create never writes: blocks
// in the ZERO, UNDEFINED and UNMAPPED states, stale sector bitmap bits, and
// dirty logs with zero descriptors.

func wtFromBuild(t *testing.T, im *vb.Image) *wtFile {
	t.Helper()
	f := newWTFile()
	if _, err := f.WriteAt(im.Bytes(), 0); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestWriterForeignStates: a write into a block that is not present
// allocates it; the rest of the block reads zeros in a disk without a
// parent and after ZERO, and reads the parent otherwise, even where stale
// sector bitmap bits were set for the old block.
func TestWriterForeignStates(t *testing.T) {
	for _, lss := range []uint32{512, 4096} {
		for _, parent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d-parent=%t", lss, parent), func(t *testing.T) {
				const size = 8 * mib
				im := vb.New(vb.Options{VirtualSize: size, BlockSize: 1 * mib, LogicalSectorSize: lss, HasParent: parent})
				states := []uint8{vb.PayloadZero, vb.PayloadUndefined, vb.PayloadUnmapped, vb.PayloadNotPresent, vb.PayloadFullyPresent}
				if parent {
					states = append(states, vb.PayloadPartiallyPresent)
				}
				model := make([]byte, size)
				var chain []*Image
				if parent {
					pf := wtCreate(t, CreateOptions{VirtualSize: size, BlockSize: 1 * mib, LogicalSectorSize: lss})
					w, _ := OpenWriter(pf, pf.Size())
					copy(model, wtPattern(size, 99))
					w.WriteAt(model, 0)
					w.Close()
					chain = []*Image{wtOpen(t, pf)}
				}
				spb := uint64(mib / lss)
				for b, st := range states {
					data := wtPattern(mib, uint64(b)+1)
					im.SetBlock(b, st, data)
					switch st {
					case vb.PayloadFullyPresent:
						copy(model[b*mib:], data)
					case vb.PayloadZero:
						clear(model[b*mib : (b+1)*mib])
					case vb.PayloadPartiallyPresent:
						// The first 4 KiB are present.
						im.MarkSectorsPresent(uint64(b)*spb, 4096/uint64(lss))
						copy(model[b*mib:], data[:4096])
					case vb.PayloadUnmapped, vb.PayloadUndefined:
						if parent {
							// Stale bits: the block was present once.
							im.MarkSectorsPresent(uint64(b)*spb, spb)
						} else {
							clear(model[b*mib : (b+1)*mib])
						}
					}
				}
				f := wtFromBuild(t, im)
				img := wtOpen(t, f)
				wtCompare(t, wtDiskReader(img, chain...), model)
				w, err := OpenWriter(f, f.Size())
				if err != nil {
					t.Fatal(err)
				}
				for b := range states {
					p := wtPattern(8192, uint64(b)+50)
					at := int64(b)*mib + 64*kib
					if _, err := w.WriteAt(p, at); err != nil {
						t.Fatal(err)
					}
					copy(model[at:], p)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				img = wtOpen(t, f)
				wtClean(t, img)
				wtCompare(t, wtDiskReader(img, chain...), model)
				for b, st := range states {
					e, _ := img.BAT.Block(uint64(b))
					want := FullyPresent
					if parent && st != vb.PayloadZero && st != vb.PayloadFullyPresent {
						want = PartiallyPresent
					}
					if e.State != want {
						t.Errorf("block %d (was %d) is %s, want %s", b, st, e.State, want)
					}
				}
			})
		}
	}
}

// TestOpenWriterForeignLog: a dirty log another writer left (data and zero
// descriptors, a payload block and the BAT) is replayed into the file.
func TestOpenWriterForeignLog(t *testing.T) {
	im := vb.New(vb.Options{VirtualSize: 16 * mib, BlockSize: 1 * mib})
	old := wtPattern(mib, 1)
	im.SetBlock(2, vb.PayloadFullyPresent, old)
	blockOff := im.Block(2).FileOffset
	// The log allocates block 5 at the end of the file, fills it, and
	// rewrites and zeroes parts of block 2.
	newOff := im.Allocate(mib)
	e := vb.NewLogEntry(10)
	fresh := wtPattern(8192, 2)
	bat := make([]byte, 4096)
	le.PutUint64(bat[16:], old2raw(blockOff))
	le.PutUint64(bat[40:], newOff|uint64(FullyPresent))
	e.Writes = []vb.LogWrite{{FileOffset: uint64(im.BATOffset), Data: bat}, {FileOffset: newOff, Data: fresh}, {FileOffset: blockOff, Data: fresh}}
	e.Zeros = []vb.LogZero{{FileOffset: blockOff + 64*kib, Length: 128 * kib}}
	im.AddLogEntry(e)
	e2 := vb.NewLogEntry(11)
	e2.Writes = []vb.LogWrite{{FileOffset: blockOff + 512*kib, Data: fresh[:4096]}}
	im.AddLogEntry(e2)
	f := wtFromBuild(t, im)
	before := wtOpen(t, f)
	if before.Replay == nil || before.Replay.Entries != 2 {
		t.Fatalf("fixture: replay %+v", before.Replay)
	}
	want := make([]byte, 16*mib)
	if err := wtDiskReader(before)(want, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want[5*mib:5*mib+8192], fresh) || !isZero(want[2*mib+64*kib:2*mib+192*kib]) {
		t.Fatalf("fixture: the log does not change what it should")
	}
	w, err := OpenWriter(f, f.Size())
	if err != nil {
		t.Fatal(err)
	}
	after := wtOpen(t, f)
	if after.Replay != nil || after.CurrentHeader().LogGUID != [16]byte{} {
		t.Fatalf("log not replayed into the file: %+v", after.Log)
	}
	if after.CurrentHeader().FileWriteGUID == before.CurrentHeader().FileWriteGUID {
		t.Errorf("FileWriteGuid not renewed before the replay")
	}
	wtCompare(t, wtDiskReader(after), want)
	p := wtPattern(4096, 3)
	if _, err := w.WriteAt(p, 9*mib); err != nil {
		t.Fatal(err)
	}
	copy(want[9*mib:], p)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	final := wtOpen(t, f)
	wtClean(t, final)
	wtCompare(t, wtDiskReader(final), want)
}

func old2raw(off uint64) uint64 { return off | uint64(FullyPresent) }
