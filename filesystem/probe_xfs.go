package filesystem

import "fmt"

// XFS superblock (big-endian) at offset 0 of allocation group 0.
func probeXFS(p *prober) (*Info, error) {
	sb, err := p.readSig("XFS superblock", 0, 264)
	if sb == nil || err != nil {
		return nil, err
	}
	if string(sb[0:4]) != "XFSB" {
		return nil, nil
	}
	bs := int64(be32(sb, 4))
	dblocks, fdblocks := be64(sb, 8), be64(sb, 144)
	if !isPow2(bs, 512, 65536) || dblocks == 0 || dblocks > uint64(1<<62)/uint64(bs) || fdblocks > dblocks {
		return nil, nil
	}
	version := be16(sb, 100) & 0xf
	info := &Info{
		Type:      TypeXFS,
		Label:     cString(sb[108:120]),
		UUID:      uuidString(sb[32:48]),
		Size:      int64(dblocks) * bs,
		BlockSize: bs,
		Used:      int64(dblocks-fdblocks) * bs,
		Version:   fmt.Sprint(version),
	}
	const s = "XFS superblock"
	p.add(s, 0, 4, "magic", "%q", sb[0:4])
	p.add(s, 4, 4, "block size", "%d", bs)
	p.add(s, 8, 8, "data blocks", "%d", dblocks)
	p.add(s, 16, 8, "realtime blocks", "%d", be64(sb, 16))
	p.add(s, 24, 8, "realtime extents", "%d", be64(sb, 24))
	p.add(s, 32, 16, "UUID", "%s", info.UUID)
	p.add(s, 48, 8, "log start", "%d", be64(sb, 48))
	p.add(s, 56, 8, "root inode", "%d", be64(sb, 56))
	p.add(s, 84, 4, "AG blocks", "%d", be32(sb, 84))
	p.add(s, 88, 4, "AG count", "%d", be32(sb, 88))
	p.add(s, 96, 4, "log blocks", "%d", be32(sb, 96))
	p.add(s, 100, 2, "version", "%#x (v%d)", be16(sb, 100), version)
	p.add(s, 102, 2, "sector size", "%d", be16(sb, 102))
	p.add(s, 104, 2, "inode size", "%d", be16(sb, 104))
	p.add(s, 108, 12, "name", "%q", info.Label)
	p.add(s, 128, 8, "inodes allocated", "%d", be64(sb, 128))
	p.add(s, 136, 8, "inodes free", "%d", be64(sb, 136))
	p.add(s, 144, 8, "free data blocks", "%d", fdblocks)
	p.add(s, 200, 4, "features2", "%#x", be32(sb, 200))
	if version >= 5 {
		p.add(s, 208, 4, "compatible features", "%#x", be32(sb, 208))
		p.add(s, 212, 4, "read-only compatible features", "%#x", be32(sb, 212))
		p.add(s, 216, 4, "incompatible features", "%#x", be32(sb, 216))
		p.add(s, 224, 4, "CRC", "0x%08x", be32(sb, 224))
		p.add(s, 248, 16, "metadata UUID", "%s", uuidString(sb[248:264]))
	}
	return info, nil
}
