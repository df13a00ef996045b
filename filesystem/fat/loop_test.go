package fat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// TestChainLoop points the FAT entry of a directory's cluster at itself:
// listing it must end with ErrWorkLimit, and a walk must go on past it.
func TestChainLoop(t *testing.T) {
	disktest.Need(t, "mkfs.fat", "mcopy", "mmd", "mdel", "mattrib")
	img := makeFAT(t, "16384", "-F", "16")
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fsys.find("/Sub Dir")
	if err != nil {
		t.Fatal(err)
	}
	v := fsys.Volume()
	binary.LittleEndian.PutUint16(raw[v.FATOffset+2*int64(sub.first):], uint16(sub.first))
	fsys, err = Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.ReadDir("/Sub Dir"); !errors.Is(err, filesystem.ErrWorkLimit) {
		t.Fatalf("ReadDir of a looping directory: %v", err)
	}
	var failed []string
	n := 0
	err = filesystem.Walk(context.Background(), fsys, "/", func(filesystem.Entry) error { n++; return nil }, func(p string, err error) error {
		failed = append(failed, p)
		return nil
	})
	if err != nil || len(failed) != 1 || failed[0] != "/Sub Dir" || n < 4 {
		t.Fatalf("walk: %d entries, failed %v, %v", n, failed, err)
	}
}
