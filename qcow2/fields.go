package qcow2

import (
	"fmt"
	"sort"
)

// Field names the bytes of one field of a structure, for annotating a hex
// view of the file.
type Field struct {
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Structure string `json:"structure"`
	Name      string `json:"field"`
	Value     string `json:"value"`
}

// maxTableFields bounds the L1 and refcount table entries Fields lists
// one by one; the tables themselves are always listed whole.
const maxTableFields = 4096

// Fields lists the fields of the structures read at Open, sorted by
// offset: header, header extensions, backing file name, snapshot table
// entries, and the L1 and refcount tables (each as a whole, plus up to
// 4096 non-zero entries).
func (img *Image) Fields() []Field {
	var out []Field
	add := func(off, n int64, st, name string, v any) {
		out = append(out, Field{Offset: off, Length: n, Structure: st, Name: name, Value: fmt.Sprint(v)})
	}
	h := img.Header
	if h == nil {
		return nil
	}
	hex := func(v uint64) string { return fmt.Sprintf("%#x", v) }
	add(0, 4, "header", "magic", "QFI\\xfb")
	add(4, 4, "header", "version", h.Version)
	add(8, 8, "header", "backing_file_offset", hex(h.BackingFileOffset))
	add(16, 4, "header", "backing_file_size", h.BackingFileSize)
	add(20, 4, "header", "cluster_bits", fmt.Sprintf("%d (%d bytes)", h.ClusterBits, uint64(1)<<min(h.ClusterBits, 63)))
	add(24, 8, "header", "size", h.VirtualSize)
	add(32, 4, "header", "crypt_method", h.CryptMethod)
	add(36, 4, "header", "l1_size", h.L1Size)
	add(40, 8, "header", "l1_table_offset", hex(h.L1TableOffset))
	add(48, 8, "header", "refcount_table_offset", hex(h.RefcountTableOffset))
	add(56, 4, "header", "refcount_table_clusters", h.RefcountTableClusters)
	add(60, 4, "header", "nb_snapshots", h.NbSnapshots)
	add(64, 8, "header", "snapshots_offset", hex(h.SnapshotsOffset))
	if h.Version >= 3 {
		names := map[FeatureKind][]string{}
		for _, f := range img.Features() {
			names[f.Kind] = append(names[f.Kind], f.Name)
		}
		add(72, 8, "header", "incompatible_features", fmt.Sprintf("%#x %v", h.IncompatibleFeatures, names[FeatureIncompatible]))
		add(80, 8, "header", "compatible_features", fmt.Sprintf("%#x %v", h.CompatibleFeatures, names[FeatureCompatible]))
		add(88, 8, "header", "autoclear_features", fmt.Sprintf("%#x %v", h.AutoclearFeatures, names[FeatureAutoclear]))
		add(96, 4, "header", "refcount_order", fmt.Sprintf("%d (%d bits)", h.RefcountOrder, uint64(1)<<min(h.RefcountOrder, 63)))
		add(100, 4, "header", "header_length", h.HeaderLength)
		if h.HeaderLength > headerV3Length {
			add(104, 1, "header", "compression_type", map[uint8]string{0: "deflate", 1: "zstd"}[h.CompressionType])
		}
	}
	for _, e := range img.Extensions {
		st := "header extension: " + e.Name
		add(e.Offset, 4, st, "type", hex(uint64(e.Type)))
		add(e.Offset+4, 4, st, "length", e.Length)
		if e.Length > 0 {
			add(e.DataOffset(), int64(e.Length), st, "data", extensionValue(img, e))
		}
	}
	for _, f := range img.FeatureNames {
		add(f.Offset, 48, "feature name table", fmt.Sprintf("%s bit %d", f.Kind, f.Bit), f.Name)
	}
	if img.BackingFile != "" {
		add(int64(h.BackingFileOffset), int64(h.BackingFileSize), "backing file name", "name", img.BackingFile)
	}
	img.tableFields(&out, "L1 table", int64(h.L1TableOffset), img.L1, tableOffsetMask)
	img.tableFields(&out, "refcount table", int64(h.RefcountTableOffset), img.RefcountTable, reftOffsetMask)
	for i, s := range img.Snapshots {
		st := fmt.Sprintf("snapshot %d", i)
		o := s.Offset
		add(o, 8, st, "l1_table_offset", hex(s.L1TableOffset))
		add(o+8, 4, st, "l1_size", s.L1Size)
		add(o+12, 2, st, "id_str_size", s.IDSize)
		add(o+14, 2, st, "name_size", s.NameSize)
		add(o+16, 4, st, "date_sec", s.Date().Format("2006-01-02 15:04:05 UTC"))
		add(o+20, 4, st, "date_nsec", s.DateNsec)
		add(o+24, 8, st, "vm_clock_nsec", s.VMClockNsec)
		add(o+32, 4, st, "vm_state_size", s.VMStateSize)
		add(o+36, 4, st, "extra_data_size", s.ExtraDataSize)
		extra := o + snapshotFixed
		if s.ExtraDataSize >= 8 {
			add(extra, 8, st, "vm_state_size_large", s.VMStateSizeLarge)
		}
		if s.ExtraDataSize >= 16 {
			add(extra+8, 8, st, "disk_size", s.DiskSize)
		}
		if s.HasICount {
			add(extra+16, 8, st, "icount", s.ICount)
		}
		idAt := extra + int64(s.ExtraDataSize)
		add(idAt, int64(s.IDSize), st, "id_str", s.ID)
		add(idAt+int64(s.IDSize), int64(s.NameSize), st, "name", s.Name)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// tableFields lists a table of 64-bit offsets whole, then its non-zero
// entries up to maxTableFields.
func (img *Image) tableFields(out *[]Field, name string, off int64, t []uint64, mask uint64) {
	if len(t) == 0 {
		return
	}
	used := 0
	for _, e := range t {
		if e != 0 {
			used++
		}
	}
	*out = append(*out, Field{Offset: off, Length: int64(len(t)) * 8, Structure: name, Name: "entries",
		Value: fmt.Sprintf("%d entries, %d in use", len(t), used)})
	listed := 0
	for i, e := range t {
		if e == 0 {
			continue
		}
		if listed++; listed > maxTableFields {
			break
		}
		v := fmt.Sprintf("%#x", e&mask)
		if name == "L1 table" && e&flagCopied != 0 {
			v += " copied"
		}
		*out = append(*out, Field{Offset: off + int64(8*i), Length: 8, Structure: name, Name: fmt.Sprintf("entry %d", i), Value: v})
	}
}

// extensionValue is the decoded value of a header extension's data.
func extensionValue(img *Image, e *Extension) string {
	switch e.Type {
	case ExtBackingFormat, ExtDataFile:
		return string(e.Data)
	case ExtFeatureNames:
		return fmt.Sprintf("%d names", len(e.Data)/48)
	case ExtBitmaps:
		if b := img.Bitmaps; b != nil {
			return fmt.Sprintf("%d bitmaps, directory of %d bytes at %#x", b.NbBitmaps, b.DirectorySize, b.DirectoryOffset)
		}
	case ExtCryptoHeader:
		if c := img.CryptoHeader; c != nil {
			return fmt.Sprintf("%d bytes at %#x", c.HeaderLength, c.HeaderOffset)
		}
	}
	return fmt.Sprintf("%d bytes", len(e.Data))
}
