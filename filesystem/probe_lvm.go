package filesystem

// LVM2 physical volume: a label in one of the first four sectors, then the
// PV header it points to.
func probeLVM2(p *prober) (*Info, error) {
	for sector := int64(0); sector < 4; sector++ {
		off := sector * 512
		l, err := p.readSig("LVM2 label", off, 512)
		if l == nil || err != nil {
			return nil, err
		}
		if string(l[0:8]) != "LABELONE" || string(l[24:32]) != "LVM2 001" || le64(l, 8) != uint64(sector) {
			continue
		}
		hdr := int(le32(l, 20))
		if hdr < 32 || hdr > 512-40 {
			return nil, nil
		}
		id := string(l[hdr : hdr+32])
		info := &Info{
			Type:      TypeLVM2,
			UUID:      LVMUUID(id),
			Size:      int64(le64(l, hdr+32)),
			Used:      -1,
			Version:   "LVM2 001",
			Container: true,
		}
		if info.Size <= 0 {
			info.Size = p.size
		}
		const s = "LVM2 label"
		p.add(s, off, 8, "signature", "%q", l[0:8])
		p.add(s, off+8, 8, "sector", "%d", le64(l, 8))
		p.add(s, off+16, 4, "CRC", "0x%08x", le32(l, 16))
		p.add(s, off+20, 4, "PV header offset", "%d", hdr)
		p.add(s, off+24, 8, "type", "%q", l[24:32])
		p.add("LVM2 PV header", off+int64(hdr), 32, "PV UUID", "%s", info.UUID)
		p.add("LVM2 PV header", off+int64(hdr)+32, 8, "device size", "%d", le64(l, hdr+32))
		return info, nil
	}
	return nil, nil
}

// LVMUUID formats the 32 characters of an LVM UUID as LVM prints it, in
// groups of 6-4-4-4-4-4-6.
func LVMUUID(id string) string {
	out := make([]byte, 0, 38)
	for i, n := range []int{6, 4, 4, 4, 4, 4, 6} {
		if i > 0 {
			out = append(out, '-')
		}
		out = append(out, id[:n]...)
		id = id[n:]
	}
	return string(out)
}
