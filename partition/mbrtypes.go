package partition

import "fmt"

// mbrTypes names the MBR partition type bytes met in practice (the names
// fdisk uses).
var mbrTypes = map[byte]string{
	0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16",
	0x07: "NTFS/exFAT/HPFS", 0x0b: "W95 FAT32", 0x0c: "W95 FAT32 (LBA)", 0x0e: "W95 FAT16 (LBA)",
	0x0f: "W95 Extended (LBA)", 0x11: "Hidden FAT12", 0x12: "Compaq diagnostics",
	0x14: "Hidden FAT16 <32M", 0x16: "Hidden FAT16", 0x17: "Hidden HPFS/NTFS",
	0x1b: "Hidden W95 FAT32", 0x1c: "Hidden W95 FAT32 (LBA)", 0x1e: "Hidden W95 FAT16 (LBA)",
	0x27: "Hidden NTFS WinRE", 0x39: "Plan 9", 0x42: "SFS / Windows dynamic", 0x4d: "QNX4.x",
	0x82: "Linux swap / Solaris", 0x83: "Linux", 0x84: "OS/2 hidden or Intel hibernation",
	0x85: "Linux extended", 0x86: "NTFS volume set", 0x87: "NTFS volume set",
	0x88: "Linux plaintext", 0x8e: "Linux LVM", 0x93: "Amoeba", 0xa5: "FreeBSD",
	0xa6: "OpenBSD", 0xa8: "Darwin UFS", 0xa9: "NetBSD", 0xab: "Darwin boot", 0xaf: "HFS / HFS+",
	0xbe: "Solaris boot", 0xbf: "Solaris", 0xda: "Non-FS data", 0xde: "Dell Utility",
	0xeb: "BeOS fs", 0xee: "GPT protective", 0xef: "EFI (FAT-12/16/32)",
	0xfb: "VMware VMFS", 0xfc: "VMware VMKCORE", 0xfd: "Linux raid autodetect",
}

// mbrTypeName names type byte t, "unknown (0xNN)" when it is not listed.
func mbrTypeName(t byte) string {
	if n, ok := mbrTypes[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown (0x%02x)", t)
}
