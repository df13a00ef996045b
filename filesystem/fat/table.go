package fat

import (
	"encoding/binary"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
)

// fatCache reads FAT entries through cached 4 KiB pieces of the first FAT.
type fatCache struct {
	fsys   *FS
	pieces map[int64][]byte
}

const fatPiece = 4096

// next returns the FAT entry of cluster c.
func (fc *fatCache) next(c uint32) (uint32, error) {
	v := &fc.fsys.vol
	var off int64
	switch v.Kind {
	case FAT12:
		off = int64(c) * 3 / 2
	case FAT16:
		off = int64(c) * 2
	default:
		off = int64(c) * 4
	}
	var b [4]byte
	for i := range int64(4) {
		if off+i >= v.FATSize {
			break
		}
		p, err := fc.piece((off + i) / fatPiece)
		if err != nil {
			return 0, err
		}
		b[i] = p[(off+i)%fatPiece]
	}
	le := binary.LittleEndian
	switch v.Kind {
	case FAT12:
		x := uint32(le.Uint16(b[:]))
		if c&1 != 0 {
			return x >> 4, nil
		}
		return x & 0xFFF, nil
	case FAT16:
		return uint32(le.Uint16(b[:])), nil
	case FAT32:
		return le.Uint32(b[:]) & 0x0FFFFFFF, nil
	}
	return le.Uint32(b[:]), nil
}

func (fc *fatCache) piece(i int64) ([]byte, error) {
	if p, ok := fc.pieces[i]; ok {
		return p, nil
	}
	v := &fc.fsys.vol
	p := make([]byte, min(fatPiece, v.FATSize-i*fatPiece))
	if err := fc.fsys.readAt(p, v.FATOffset+i*fatPiece, "FAT"); err != nil {
		return nil, err
	}
	if fc.pieces == nil || len(fc.pieces) >= 1024 {
		fc.pieces = map[int64][]byte{}
	}
	fc.pieces[i] = p
	return p, nil
}

// isEnd reports whether FAT entry x ends a chain (end of chain, bad
// cluster, free or reserved).
func (fsys *FS) isEnd(x uint32) bool {
	if x < 2 {
		return true
	}
	switch fsys.vol.Kind {
	case FAT12:
		return x >= 0xFF7
	case FAT16:
		return x >= 0xFFF7
	case FAT32:
		return x >= 0x0FFFFFF7
	}
	return x >= 0xFFFFFFF7
}

// run is count clusters from cluster first.
type run struct {
	first, count uint32
}

// chain follows the FAT from cluster first for at most limit clusters.
func (fsys *FS) chain(first uint32, limit int64) ([]run, error) {
	var runs []run
	c := first
	for n := int64(0); n < limit; n++ {
		if c < 2 || c-2 >= fsys.vol.Clusters {
			if n == 0 {
				return nil, nil
			}
			return nil, filesystem.Corrupt("FAT", fsys.vol.FATOffset, "chain from cluster %d reaches cluster %d", first, c)
		}
		if k := len(runs); k > 0 && runs[k-1].first+runs[k-1].count == c {
			runs[k-1].count++
		} else {
			runs = append(runs, run{c, 1})
		}
		x, err := fsys.fat.next(c)
		if err != nil {
			return nil, err
		}
		if fsys.isEnd(x) {
			return runs, nil
		}
		c = x
	}
	if limit >= int64(fsys.vol.Clusters) {
		return nil, &filesystem.FormatError{Structure: "FAT", Offset: fsys.vol.FATOffset, Err: filesystem.ErrWorkLimit, Detail: "cluster chain longer than the volume: a loop"}
	}
	return runs, nil
}

// contiguous returns the run of count clusters from first, cut at the end
// of the volume.
func (fsys *FS) contiguous(first uint32, count int64) []run {
	if first < 2 || first-2 >= fsys.vol.Clusters || count <= 0 {
		return nil
	}
	return []run{{first, uint32(min(count, int64(fsys.vol.Clusters-(first-2))))}}
}

// clusterOffset returns the byte offset of cluster c.
func (fsys *FS) clusterOffset(c uint32) int64 {
	return fsys.vol.HeapOffset + int64(c-2)*fsys.vol.ClusterSize()
}
