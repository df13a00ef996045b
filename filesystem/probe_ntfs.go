package filesystem

import "fmt"

// NTFS: the boot sector, then MFT record 3 ($Volume) for the label and
// version, and record 6 ($Bitmap), whose clear bits are the free clusters.
const (
	ntfsVolumeRecord   = 3
	ntfsBitmapRecord   = 6
	ntfsAttrData       = 0x80
	ntfsMaxRuns        = 4096 // bound on the runs of $Bitmap decoded
	ntfsAttrVolumeName = 0x60
	ntfsAttrVolumeInfo = 0x70
	ntfsAttrEnd        = 0xffffffff
	ntfsFixupStride    = 512
)

func probeNTFS(p *prober) (*Info, error) {
	bs, err := p.readSig("NTFS boot sector", 0, 512)
	if bs == nil || err != nil {
		return nil, err
	}
	if string(bs[3:11]) != "NTFS    " {
		return nil, nil
	}
	sector := int64(le16(bs, 11))
	spc := int64(bs[13])
	if spc > 0x80 { // a negative exponent: 2^-(int8)
		spc = 1 << (256 - spc)
	}
	cluster := sector * spc
	total := le64(bs, 40)
	if !isPow2(sector, 256, 4096) || !isPow2(cluster, sector, 2<<20) || total == 0 || total > uint64(1<<62)/uint64(sector) {
		return nil, nil
	}
	record := ntfsRecordSize(int8(bs[64]), cluster)
	info := &Info{
		Type:      TypeNTFS,
		UUID:      fmt.Sprintf("%016X", le64(bs, 72)),
		Size:      int64(total) * sector,
		BlockSize: cluster,
		Used:      -1,
	}
	clusters := int64(total) * sector / cluster
	const s = "NTFS boot sector"
	p.add(s, 0, 3, "jump", "% x", bs[0:3])
	p.add(s, 3, 8, "OEM ID", "%q", bs[3:11])
	p.add(s, 11, 2, "bytes per sector", "%d", sector)
	p.add(s, 13, 1, "sectors per cluster", "%d (%d-byte clusters)", bs[13], cluster)
	p.add(s, 21, 1, "media descriptor", "0x%02x", bs[21])
	p.add(s, 28, 4, "hidden sectors", "%d", le32(bs, 28))
	p.add(s, 40, 8, "total sectors", "%d", total)
	p.add(s, 48, 8, "MFT cluster", "%d", le64(bs, 48))
	p.add(s, 56, 8, "MFT mirror cluster", "%d", le64(bs, 56))
	p.add(s, 64, 1, "clusters per MFT record", "%d (%d-byte records)", int8(bs[64]), record)
	p.add(s, 68, 1, "clusters per index record", "%d", int8(bs[68]))
	p.add(s, 72, 8, "volume serial number", "%s", info.UUID)
	p.add(s, 510, 2, "signature", "% x", bs[510:512])
	mft := le64(bs, 48)
	if record == 0 || mft > uint64(p.size/cluster) {
		return info, nil
	}
	off := int64(mft)*cluster + ntfsVolumeRecord*record
	rec, err := p.read("NTFS $Volume record", off, int(record))
	if err != nil {
		return info, ignoreOutside(err)
	}
	if ntfsFixup(rec) {
		ntfsVolume(p, info, rec, off)
	}
	// The first 16 MFT records are contiguous, so $Bitmap follows $Volume.
	off = int64(mft)*cluster + ntfsBitmapRecord*record
	if rec, err = p.read("NTFS $Bitmap record", off, int(record)); err != nil {
		return info, ignoreOutside(err)
	}
	if !ntfsFixup(rec) {
		return info, nil
	}
	runs := ntfsDataRuns(rec)
	used, err := p.bitmapUsed("NTFS $Bitmap", runs, cluster, clusters)
	if err != nil || used < 0 {
		return info, err
	}
	info.Used = info.Size - (clusters-used)*cluster
	return info, nil
}

// ntfsRun is a run of clusters: lcn -1 for a sparse run.
type ntfsRun struct{ lcn, length int64 }

// ntfsDataRuns decodes the run list of the unnamed non-resident $DATA
// attribute of a record; nil if there is none.
func ntfsDataRuns(rec []byte) []ntfsRun {
	a := int(le16(rec, 20))
	for a >= 0 && a+16 <= len(rec) {
		typ, length := le32(rec, a), int(le32(rec, a+4))
		if typ == ntfsAttrEnd || length < 16 || length > len(rec)-a {
			return nil
		}
		if typ == ntfsAttrData && rec[a+8] == 1 && rec[a+9] == 0 && length >= 64 {
			return ntfsRunList(rec[a:a+length], int(le16(rec, a+32)))
		}
		a += length
	}
	return nil
}

// ntfsRunList decodes a run list starting at pos of attribute attr: each
// run a header byte (sizes of the length and offset fields), the length,
// and the offset from the previous run's cluster (none for a sparse run).
func ntfsRunList(attr []byte, pos int) []ntfsRun {
	var runs []ntfsRun
	var lcn int64
	for pos >= 0 && pos < len(attr) && attr[pos] != 0 && len(runs) < ntfsMaxRuns {
		nl, no := int(attr[pos]&0xf), int(attr[pos]>>4)
		pos++
		if nl == 0 || nl > 8 || no > 8 || pos+nl+no > len(attr) {
			return nil
		}
		length := int64(leUint(attr[pos : pos+nl]))
		pos += nl
		run := ntfsRun{lcn: -1, length: length}
		if no > 0 {
			lcn += leInt(attr[pos : pos+no])
			run.lcn = lcn
			pos += no
		}
		if run.length <= 0 || (no > 0 && lcn < 0) {
			return nil
		}
		runs = append(runs, run)
	}
	return runs
}

// leUint and leInt read a little-endian integer of 1 to 8 bytes, unsigned
// or sign-extended.
func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func leInt(b []byte) int64 {
	v := leUint(b)
	if n := uint(len(b)) * 8; n < 64 && v&(1<<(n-1)) != 0 {
		v |= ^uint64(0) << n
	}
	return int64(v)
}

// bitmapUsed counts the set bits among the first n bits of a bitmap
// stored in runs of clusters; -1 if it cannot be read whole.
func (p *prober) bitmapUsed(structure string, runs []ntfsRun, cluster, n int64) (int64, error) {
	need := (n + 7) / 8
	if need > p.size {
		return -1, nil
	}
	var used, done int64
	for _, r := range runs {
		if done >= need {
			break
		}
		if r.length > (need-done+cluster-1)/cluster {
			r.length = (need - done + cluster - 1) / cluster
		}
		m := min(r.length*cluster, need-done)
		if r.lcn >= 0 {
			if r.lcn > p.size/cluster {
				return -1, nil
			}
			b, err := p.read(structure, r.lcn*cluster, int(m))
			if err != nil {
				return -1, ignoreOutside(err)
			}
			if done+m == need && n%8 != 0 {
				b[len(b)-1] &= byte(1)<<(n%8) - 1
			}
			used += popcount(b)
		}
		done += m
	}
	if done < need {
		return -1, nil
	}
	return used, nil
}

// ntfsRecordSize decodes the "clusters per MFT record" byte: positive, a
// count of clusters; negative, the log2 of the size in bytes. It returns 0
// for a size out of the range 256 bytes to 64 KiB.
func ntfsRecordSize(v int8, cluster int64) int64 {
	var n int64
	if v > 0 {
		n = int64(v) * cluster
	} else if v > -17 {
		n = 1 << -v
	}
	if !isPow2(n, 256, 65536) {
		return 0
	}
	return n
}

// ntfsFixup checks a FILE record's update sequence and puts back the bytes
// it displaced at the end of each 512-byte stride.
func ntfsFixup(rec []byte) bool {
	if string(rec[0:4]) != "FILE" {
		return false
	}
	usa, count := int(le16(rec, 4)), int(le16(rec, 6))
	if count < 1 || usa+2*count > len(rec) || (count-1)*ntfsFixupStride > len(rec) {
		return false
	}
	for i := 1; i < count; i++ {
		end := i*ntfsFixupStride - 2
		if rec[end] != rec[usa] || rec[end+1] != rec[usa+1] {
			return false
		}
		rec[end], rec[end+1] = rec[usa+2*i], rec[usa+2*i+1]
	}
	return true
}

// ntfsVolume reads the label and version from the resident attributes of
// the $Volume record.
func ntfsVolume(p *prober, info *Info, rec []byte, off int64) {
	const s = "NTFS $Volume record"
	p.add(s, off, 4, "signature", "%q", rec[0:4])
	a := int(le16(rec, 20))
	for a >= 0 && a+16 <= len(rec) {
		typ, length := le32(rec, a), int(le32(rec, a+4))
		if typ == ntfsAttrEnd || length < 16 || length > len(rec)-a {
			return
		}
		if rec[a+8] == 0 && length >= 24 { // resident
			vlen, voff := int(le32(rec, a+16)), int(le16(rec, a+20))
			if voff <= length && vlen <= length-voff {
				v := rec[a+voff : a+voff+vlen]
				switch typ {
				case ntfsAttrVolumeName:
					info.Label = utf16String(v, false)
					p.add(s, off+int64(a+voff), int64(vlen), "$VOLUME_NAME", "%q", info.Label)
				case ntfsAttrVolumeInfo:
					if vlen >= 12 {
						info.Version = fmt.Sprintf("%d.%d", v[8], v[9])
						p.add(s, off+int64(a+voff+8), 2, "$VOLUME_INFORMATION version", "%s", info.Version)
						p.add(s, off+int64(a+voff+10), 2, "$VOLUME_INFORMATION flags", "0x%04x", le16(v, 10))
					}
				}
			}
		}
		a += length
	}
}
