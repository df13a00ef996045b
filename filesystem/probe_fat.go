package filesystem

import (
	"fmt"
	"strings"
)

// FAT12/16/32: the BIOS parameter block of the boot sector, the root
// directory for the volume label, and the first FAT to count free clusters.
const (
	fatAttrLabel   = 0x08
	fatAttrLFN     = 0x0f
	fatDirEntry    = 32
	fatMaxRootDir  = 4 << 20 // bytes of a FAT32 or exFAT root directory read
	fatScanChunk   = 1 << 20 // bytes of the FAT read at once
	fat32EntryMask = 0x0fffffff
)

// fatVolume is the geometry of a FAT volume, in bytes unless named.
type fatVolume struct {
	sector, cluster  int64
	fatOffset        int64 // the first FAT
	rootOffset       int64 // FAT12/16: the fixed root directory
	rootBytes        int64
	dataOffset       int64 // cluster 2
	clusters         uint32
	bits             int // 12, 16 or 32
	rootCluster      uint32
	size, fatSectors int64
}

func probeFAT(p *prober) (*Info, error) {
	bs, err := p.readSig("FAT boot sector", 0, 512)
	if bs == nil || err != nil {
		return nil, err
	}
	v, ok := fatGeometry(bs)
	if !ok {
		return nil, nil
	}
	info := &Info{Type: fmt.Sprintf("fat%d", v.bits), Size: v.size, BlockSize: v.cluster, Used: -1}
	ext := 36 // the extended BPB: FAT12/16 at 36, FAT32 at 64
	if v.bits == 32 {
		ext = 64
	}
	const s = "FAT boot sector"
	p.add(s, 0, 3, "jump", "% x", bs[0:3])
	p.add(s, 3, 8, "OEM name", "%q", bs[3:11])
	p.add(s, 11, 2, "bytes per sector", "%d", v.sector)
	p.add(s, 13, 1, "sectors per cluster", "%d", bs[13])
	p.add(s, 14, 2, "reserved sectors", "%d", le16(bs, 14))
	p.add(s, 16, 1, "number of FATs", "%d", bs[16])
	p.add(s, 17, 2, "root directory entries", "%d", le16(bs, 17))
	p.add(s, 19, 2, "total sectors (16-bit)", "%d", le16(bs, 19))
	p.add(s, 21, 1, "media descriptor", "0x%02x", bs[21])
	p.add(s, 22, 2, "sectors per FAT (16-bit)", "%d", le16(bs, 22))
	p.add(s, 28, 4, "hidden sectors", "%d", le32(bs, 28))
	p.add(s, 32, 4, "total sectors (32-bit)", "%d", le32(bs, 32))
	if v.bits == 32 {
		p.add(s, 36, 4, "sectors per FAT", "%d", le32(bs, 36))
		p.add(s, 42, 2, "version", "0x%04x", le16(bs, 42))
		p.add(s, 44, 4, "root directory cluster", "%d", v.rootCluster)
		p.add(s, 48, 2, "FSInfo sector", "%d", le16(bs, 48))
		p.add(s, 50, 2, "backup boot sector", "%d", le16(bs, 50))
	}
	p.add(s, int64(ext+2), 1, "extended boot signature", "0x%02x", bs[ext+2])
	var bootLabel string
	if sig := bs[ext+2]; sig == 0x29 || sig == 0x28 {
		id := bs[ext+3 : ext+7]
		info.UUID = fmt.Sprintf("%02X%02X-%02X%02X", id[3], id[2], id[1], id[0])
		p.add(s, int64(ext+3), 4, "volume serial number", "%s", info.UUID)
	}
	if bs[ext+2] == 0x29 {
		bootLabel = strings.TrimRight(string(bs[ext+7:ext+18]), " ")
		p.add(s, int64(ext+7), 11, "volume label", "%q", bootLabel)
		p.add(s, int64(ext+18), 8, "filesystem type", "%q", bs[ext+18:ext+26])
	}
	p.add(s, 510, 2, "signature", "% x", bs[510:512])

	root, err := fatRootDir(p, v)
	if err != nil {
		return nil, err
	}
	info.Label = fatLabel(root)
	if info.Label == "" && bootLabel != "NO NAME" {
		info.Label = bootLabel
	}
	free, err := fatFree(p, v)
	if err != nil {
		return nil, err
	}
	if free >= 0 {
		info.Used = v.size - free*v.cluster
	}
	return info, nil
}

// fatGeometry validates the BIOS parameter block and derives the layout;
// the FAT type follows from the cluster count, as the specification says.
func fatGeometry(bs []byte) (fatVolume, bool) {
	var v fatVolume
	if !(bs[0] == 0xeb && bs[2] == 0x90) && bs[0] != 0xe9 {
		return v, false
	}
	v.sector = int64(le16(bs, 11))
	spc := int64(bs[13])
	reserved, nfats, rootEnt := int64(le16(bs, 14)), int64(bs[16]), int64(le16(bs, 17))
	total := int64(le16(bs, 19))
	if total == 0 {
		total = int64(le32(bs, 32))
	}
	v.fatSectors = int64(le16(bs, 22))
	if v.fatSectors == 0 {
		v.fatSectors = int64(le32(bs, 36))
	}
	media := bs[21]
	if !isPow2(v.sector, 512, 4096) || !isPow2(spc, 1, 128) || reserved == 0 || nfats == 0 ||
		(media != 0xf0 && media < 0xf8) || total == 0 || v.fatSectors == 0 {
		return v, false
	}
	v.cluster = v.sector * spc
	rootSectors := (rootEnt*fatDirEntry + v.sector - 1) / v.sector
	firstData := reserved + nfats*v.fatSectors + rootSectors
	if firstData >= total {
		return v, false
	}
	n := (total - firstData) / spc
	switch {
	case n < 4085:
		v.bits = 12
	case n < 65525:
		v.bits = 16
	default:
		v.bits = 32
	}
	if v.bits == 32 && (rootEnt != 0 || n > fat32EntryMask-10) {
		return v, false
	}
	if (n+2)*int64(v.bits)/8 > v.fatSectors*v.sector {
		return v, false // the FAT cannot map every cluster
	}
	v.clusters = uint32(n)
	v.size = total * v.sector
	v.fatOffset = reserved * v.sector
	v.rootOffset = (reserved + nfats*v.fatSectors) * v.sector
	v.rootBytes = rootEnt * fatDirEntry
	v.dataOffset = firstData * v.sector
	v.rootCluster = le32(bs, 44)
	return v, true
}

// fatRootDir reads the root directory: fixed for FAT12/16, a cluster
// chain for FAT32 (bounded to fatMaxRootDir bytes).
func fatRootDir(p *prober, v fatVolume) ([]byte, error) {
	if v.bits != 32 {
		b, err := p.read("FAT root directory", v.rootOffset, int(min(v.rootBytes, fatMaxRootDir)))
		return b, ignoreOutside(err)
	}
	return p.chain("FAT32 root directory", v.rootCluster, v.clusters, v.fatOffset, fat32EntryMask,
		func(c uint32) int64 { return v.dataOffset + int64(c-2)*v.cluster }, v.cluster)
}

// chain reads the clusters of a chain from its first cluster, following
// 32-bit FAT entries (masked) at fatOffset: the first cluster, then more
// up to fatMaxRootDir bytes. A chain that leaves the range or ends early
// is returned as far as read.
func (p *prober) chain(structure string, first, clusters uint32, fatOffset int64, mask uint32, at func(uint32) int64, cluster int64) ([]byte, error) {
	var out []byte
	for c := first; c >= 2 && c-2 < clusters && (out == nil || int64(len(out))+cluster <= fatMaxRootDir); {
		b, err := p.read(structure, at(c), int(cluster))
		if err != nil {
			return out, ignoreOutside(err)
		}
		out = append(out, b...)
		e, err := p.read("FAT entry", fatOffset+4*int64(c), 4)
		if err != nil {
			return out, ignoreOutside(err)
		}
		c = le32(e, 0) & mask
	}
	return out, nil
}

// fatLabel finds the volume label entry of a root directory.
func fatLabel(dir []byte) string {
	for i := 0; i+fatDirEntry <= len(dir); i += fatDirEntry {
		e := dir[i : i+fatDirEntry]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xe5 || e[11] == fatAttrLFN || e[11]&fatAttrLabel == 0 {
			continue
		}
		name := e[0:11:11]
		if name[0] == 0x05 { // a leading 0xE5 byte, escaped
			name = append([]byte{0xe5}, name[1:]...)
		}
		return strings.TrimRight(string(name), " ")
	}
	return ""
}

// fatFree counts the free entries of the first FAT (entries 2 onwards),
// reading it in chunks. It returns -1 when the FAT lies beyond the range.
func fatFree(p *prober, v fatVolume) (int64, error) {
	entries := int64(v.clusters) + 2
	length := (entries*int64(v.bits) + 7) / 8
	var free int64
	for pos := int64(0); pos < length; {
		n := min(length-pos, fatScanChunk)
		if v.bits == 12 {
			n = length // at most 6 KiB: one read keeps the 12-bit pairs whole
		}
		b, err := p.read("FAT", v.fatOffset+pos, int(n))
		if err != nil {
			if ignoreOutside(err) == nil {
				return -1, nil
			}
			return 0, err
		}
		free += fatCountFree(b, pos*8/int64(v.bits), entries, v.bits)
		pos += n
	}
	return free, nil
}

// fatCountFree counts the zero entries among entries 2 to entries-1 of a
// piece of a FAT that starts at entry first (0 for FAT12, read whole).
func fatCountFree(b []byte, first, entries int64, width int) int64 {
	var free int64
	for n := max(first, 2); n < entries; n++ {
		i := int((n - first) * int64(width) / 8)
		var w uint32
		switch width {
		case 12:
			if i+2 > len(b) {
				return free
			}
			w = uint32(le16(b, i))
			if n%2 == 1 {
				w >>= 4
			}
			w &= 0xfff
		case 16:
			if i+2 > len(b) {
				return free
			}
			w = uint32(le16(b, i))
		default:
			if i+4 > len(b) {
				return free
			}
			w = le32(b, i) & fat32EntryMask
		}
		if w == 0 {
			free++
		}
	}
	return free
}
