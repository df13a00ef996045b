package filesystem

import "fmt"

// exFAT: the boot sector, the root directory for the label and the
// allocation bitmap, whose set bits are the clusters in use.
const (
	exfatEntryLabel  = 0x83
	exfatEntryBitmap = 0x81
)

func probeExFAT(p *prober) (*Info, error) {
	bs, err := p.readSig("exFAT boot sector", 0, 512)
	if bs == nil || err != nil {
		return nil, err
	}
	if string(bs[3:11]) != "EXFAT   " {
		return nil, nil
	}
	sshift, cshift := bs[108], bs[109]
	if sshift < 9 || sshift > 12 || cshift > 25-sshift {
		return nil, nil
	}
	sector := int64(1) << sshift
	cluster := sector << cshift
	length := le64(bs, 72)
	fatOff, heap, count, root := int64(le32(bs, 80))*sector, int64(le32(bs, 88))*sector, le32(bs, 92), le32(bs, 96)
	if length == 0 || length > uint64(1<<62)/uint64(sector) {
		return nil, nil
	}
	info := &Info{
		Type:      TypeExFAT,
		UUID:      fmt.Sprintf("%02X%02X-%02X%02X", bs[103], bs[102], bs[101], bs[100]),
		Size:      int64(length) * sector,
		BlockSize: cluster,
		Used:      -1,
		Version:   fmt.Sprintf("%d.%d", bs[105], bs[104]),
	}
	const s = "exFAT boot sector"
	p.add(s, 3, 8, "file system name", "%q", bs[3:11])
	p.add(s, 64, 8, "partition offset", "%d", le64(bs, 64))
	p.add(s, 72, 8, "volume length", "%d sectors", length)
	p.add(s, 80, 4, "FAT offset", "%d sectors", le32(bs, 80))
	p.add(s, 84, 4, "FAT length", "%d sectors", le32(bs, 84))
	p.add(s, 88, 4, "cluster heap offset", "%d sectors", le32(bs, 88))
	p.add(s, 92, 4, "cluster count", "%d", count)
	p.add(s, 96, 4, "root directory cluster", "%d", root)
	p.add(s, 100, 4, "volume serial number", "%s", info.UUID)
	p.add(s, 104, 2, "revision", "%s", info.Version)
	p.add(s, 106, 2, "volume flags", "0x%04x", le16(bs, 106))
	p.add(s, 108, 1, "bytes per sector shift", "%d", sshift)
	p.add(s, 109, 1, "sectors per cluster shift", "%d", cshift)
	p.add(s, 110, 1, "number of FATs", "%d", bs[110])
	p.add(s, 112, 1, "percent in use", "%d", bs[112])
	p.add(s, 510, 2, "signature", "% x", bs[510:512])

	at := func(c uint32) int64 { return heap + int64(c-2)*cluster }
	dir, err := p.chain("exFAT root directory", root, count, fatOff, 0xffffffff, at, cluster)
	if err != nil {
		return nil, err
	}
	for i := 0; i+fatDirEntry <= len(dir); i += fatDirEntry {
		e := dir[i : i+fatDirEntry]
		if e[0] == 0 {
			break
		}
		switch e[0] {
		case exfatEntryLabel:
			n := min(int(e[1]), 11)
			info.Label = utf16String(e[2:2+2*n], false)
		case exfatEntryBitmap:
			if e[1]&1 != 0 { // the second FAT's bitmap (TexFAT)
				continue
			}
			used, err := exfatUsed(p, at, e, count, fatOff, cluster)
			if err != nil {
				return nil, err
			}
			if used >= 0 {
				info.Used = info.Size - int64(count)*cluster + used*cluster
			}
		}
	}
	return info, nil
}

// exfatUsed counts the set bits among the first count bits of the
// allocation bitmap described by directory entry e; -1 if it cannot be read.
func exfatUsed(p *prober, at func(uint32) int64, e []byte, count uint32, fatOff, cluster int64) (int64, error) {
	first, length := le32(e, 20), le64(e, 24)
	need := (uint64(count) + 7) / 8
	if length < need || need > uint64(p.size) {
		return -1, nil
	}
	var used int64
	var read uint64
	for c, steps := first, uint64(0); read < need && c >= 2 && c-2 < count && steps <= uint64(count); steps++ {
		n := min(uint64(cluster), need-read)
		b, err := p.read("exFAT allocation bitmap", at(c), int(n))
		if err != nil {
			return -1, ignoreOutside(err)
		}
		if read+n == need && count%8 != 0 {
			b[len(b)-1] &= byte(1)<<(count%8) - 1
		}
		used += popcount(b)
		read += n
		fe, err := p.read("FAT entry", fatOff+4*int64(c), 4)
		if err != nil {
			return -1, ignoreOutside(err)
		}
		c = le32(fe, 0)
	}
	if read < need {
		return -1, nil
	}
	return used, nil
}
