package filesystem

// Btrfs superblock: 4 KiB at offset 64 KiB.
const btrfsSuperOffset = 0x10000

func probeBtrfs(p *prober) (*Info, error) {
	sb, err := p.readSig("Btrfs superblock", btrfsSuperOffset, 0x22b)
	if sb == nil || err != nil {
		return nil, err
	}
	if string(sb[0x40:0x48]) != "_BHRfS_M" {
		return nil, nil
	}
	total, used := le64(sb, 0x70), le64(sb, 0x78)
	sector := int64(le32(sb, 0x90))
	if total == 0 || total > 1<<62 || used > total || !isPow2(sector, 512, 65536) {
		return nil, nil
	}
	info := &Info{
		Type:      TypeBtrfs,
		Label:     cString(sb[0x12b:0x22b]),
		UUID:      uuidString(sb[0x20:0x30]),
		Size:      int64(total),
		BlockSize: sector,
		Used:      int64(used),
		Features:  flagNames(le64(sb, 0xbc), btrfsIncompatNames),
	}
	const s = "Btrfs superblock"
	o := int64(btrfsSuperOffset)
	p.add(s, o, 32, "checksum", "0x%08x", le32(sb, 0))
	p.add(s, o+0x20, 16, "filesystem UUID", "%s", info.UUID)
	p.add(s, o+0x30, 8, "byte number", "%#x", le64(sb, 0x30))
	p.add(s, o+0x38, 8, "flags", "%#x", le64(sb, 0x38))
	p.add(s, o+0x40, 8, "magic", "%q", sb[0x40:0x48])
	p.add(s, o+0x48, 8, "generation", "%d", le64(sb, 0x48))
	p.add(s, o+0x50, 8, "root tree", "%#x", le64(sb, 0x50))
	p.add(s, o+0x58, 8, "chunk tree", "%#x", le64(sb, 0x58))
	p.add(s, o+0x70, 8, "total bytes", "%d", total)
	p.add(s, o+0x78, 8, "bytes used", "%d", used)
	p.add(s, o+0x88, 8, "number of devices", "%d", le64(sb, 0x88))
	p.add(s, o+0x90, 4, "sector size", "%d", sector)
	p.add(s, o+0x94, 4, "node size", "%d", le32(sb, 0x94))
	p.add(s, o+0xbc, 8, "incompatible features", "%#x", le64(sb, 0xbc))
	p.add(s, o+0xc4, 2, "checksum type", "%d", le16(sb, 0xc4))
	p.add(s, o+0xc9, 8, "device ID", "%d", le64(sb, 0xc9))
	p.add(s, o+0x10b, 16, "device UUID", "%s", uuidString(sb[0x10b:0x11b]))
	p.add(s, o+0x12b, 256, "label", "%q", info.Label)
	return info, nil
}

var btrfsIncompatNames = map[uint64]string{
	0x1: "mixed_backref", 0x2: "default_subvol", 0x4: "mixed_groups", 0x8: "compress_lzo",
	0x10: "compress_zstd", 0x20: "big_metadata", 0x40: "extended_iref", 0x80: "raid56",
	0x100: "skinny_metadata", 0x200: "no_holes", 0x400: "metadata_uuid", 0x800: "raid1c34",
	0x1000: "zoned", 0x2000: "extent_tree_v2", 0x4000: "raid_stripe_tree", 0x10000: "simple_quota",
}
