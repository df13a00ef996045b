package filesystem

import (
	"fmt"
	"strings"
)

// ext2/3/4 superblock: 1024 bytes at offset 1024.
const (
	extSuperOffset = 1024
	extMagic       = 0xef53

	extCompatHasJournal  = 0x4
	extIncompatJournalDe = 0x8
	extIncompat64bit     = 0x80
	// Features an ext3 driver knows; any other makes the filesystem ext4
	// (the rule blkid applies).
	ext3IncompatKnown = 0x2 | 0x4 | 0x10 // filetype, needs_recovery, meta_bg
	ext3ROCompatKnown = 0x1 | 0x2 | 0x4  // sparse_super, large_file, btree_dir
)

var extCompatNames = map[uint64]string{
	0x1: "dir_prealloc", 0x2: "imagic_inodes", 0x4: "has_journal", 0x8: "ext_attr",
	0x10: "resize_inode", 0x20: "dir_index", 0x200: "sparse_super2", 0x400: "fast_commit",
	0x800: "stable_inodes", 0x1000: "orphan_file",
}

var extIncompatNames = map[uint64]string{
	0x1: "compression", 0x2: "filetype", 0x4: "needs_recovery", 0x8: "journal_dev",
	0x10: "meta_bg", 0x40: "extent", 0x80: "64bit", 0x100: "mmp", 0x200: "flex_bg",
	0x400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed", 0x4000: "large_dir",
	0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold",
}

var extROCompatNames = map[uint64]string{
	0x1: "sparse_super", 0x2: "large_file", 0x4: "btree_dir", 0x8: "huge_file",
	0x10: "uninit_bg", 0x20: "dir_nlink", 0x40: "extra_isize", 0x100: "quota",
	0x200: "bigalloc", 0x400: "metadata_csum", 0x800: "replica", 0x1000: "read-only",
	0x2000: "project", 0x4000: "shared_blocks", 0x8000: "verity", 0x10000: "orphan_present",
}

func probeExt(p *prober) (*Info, error) {
	sb, err := p.readSig("ext superblock", extSuperOffset, 1024)
	if sb == nil || err != nil {
		return nil, err
	}
	if le16(sb, 56) != extMagic {
		return nil, nil
	}
	logBlock := le32(sb, 24)
	if logBlock > 6 { // 1 KiB to 64 KiB
		return nil, nil
	}
	bs := int64(1024) << logBlock
	compat, incompat, rocompat := le32(sb, 92), le32(sb, 96), le32(sb, 100)
	if incompat&extIncompatJournalDe != 0 {
		return nil, nil // an external journal, not a filesystem
	}
	blocks, free := uint64(le32(sb, 4)), uint64(le32(sb, 12))
	if incompat&extIncompat64bit != 0 {
		blocks |= uint64(le32(sb, 0x150)) << 32
		free |= uint64(le32(sb, 0x158)) << 32
	}
	if blocks == 0 || blocks > uint64(1<<62)/uint64(bs) || free > blocks {
		return nil, nil
	}
	typ := TypeExt4
	if incompat&^ext3IncompatKnown == 0 && rocompat&^ext3ROCompatKnown == 0 {
		typ = TypeExt2
		if compat&extCompatHasJournal != 0 {
			typ = TypeExt3
		}
	}
	var features []string
	features = append(features, flagNames(uint64(compat), extCompatNames)...)
	features = append(features, flagNames(uint64(incompat), extIncompatNames)...)
	features = append(features, flagNames(uint64(rocompat), extROCompatNames)...)
	info := &Info{
		Type:      typ,
		Label:     cString(sb[120:136]),
		UUID:      uuidString(sb[104:120]),
		Size:      int64(blocks) * bs,
		BlockSize: bs,
		Used:      int64(blocks-free) * bs,
		Version:   fmt.Sprintf("%d.%d", le32(sb, 76), le16(sb, 62)),
		Features:  features,
	}
	const s = "ext superblock"
	o := int64(extSuperOffset)
	p.add(s, o, 4, "inodes count", "%d", le32(sb, 0))
	p.add(s, o+4, 4, "blocks count (low)", "%d", le32(sb, 4))
	p.add(s, o+8, 4, "reserved blocks count (low)", "%d", le32(sb, 8))
	p.add(s, o+12, 4, "free blocks count (low)", "%d", le32(sb, 12))
	p.add(s, o+16, 4, "free inodes count", "%d", le32(sb, 16))
	p.add(s, o+20, 4, "first data block", "%d", le32(sb, 20))
	p.add(s, o+24, 4, "log block size", "%d (%d bytes)", logBlock, bs)
	p.add(s, o+28, 4, "log cluster size", "%d", le32(sb, 28))
	p.add(s, o+32, 4, "blocks per group", "%d", le32(sb, 32))
	p.add(s, o+40, 4, "inodes per group", "%d", le32(sb, 40))
	p.add(s, o+44, 4, "mount time", "%d", le32(sb, 44))
	p.add(s, o+48, 4, "write time", "%d", le32(sb, 48))
	p.add(s, o+56, 2, "magic", "0x%04x", le16(sb, 56))
	p.add(s, o+58, 2, "state", "%#x", le16(sb, 58))
	p.add(s, o+62, 2, "minor revision level", "%d", le16(sb, 62))
	p.add(s, o+76, 4, "revision level", "%d", le32(sb, 76))
	p.add(s, o+88, 2, "inode size", "%d", le16(sb, 88))
	p.add(s, o+92, 4, "compatible features", "%#x %s", compat, strings.Join(flagNames(uint64(compat), extCompatNames), " "))
	p.add(s, o+96, 4, "incompatible features", "%#x %s", incompat, strings.Join(flagNames(uint64(incompat), extIncompatNames), " "))
	p.add(s, o+100, 4, "read-only compatible features", "%#x %s", rocompat, strings.Join(flagNames(uint64(rocompat), extROCompatNames), " "))
	p.add(s, o+104, 16, "UUID", "%s", info.UUID)
	p.add(s, o+120, 16, "volume name", "%q", info.Label)
	p.add(s, o+136, 64, "last mounted", "%q", cString(sb[136:200]))
	if incompat&extIncompat64bit != 0 {
		p.add(s, o+0x150, 4, "blocks count (high)", "%d", le32(sb, 0x150))
		p.add(s, o+0x154, 4, "reserved blocks count (high)", "%d", le32(sb, 0x154))
		p.add(s, o+0x158, 4, "free blocks count (high)", "%d", le32(sb, 0x158))
	}
	return info, nil
}
