package partition

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// guid formats a GUID stored as on Windows and in GPT: the first three
// fields little-endian. Upper case, as fdisk and sgdisk print them.
func guid(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le32(b, 0), le16(b, 4), le16(b, 6), b[8:10], b[10:16])
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// utf16Name decodes a UTF-16LE name up to its first NUL.
func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := le16(b, i)
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// gptTypes names the partition type GUIDs met in practice (the names
// sfdisk and sgdisk use).
var gptTypes = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
	"024DEE41-33E7-11D3-9D69-0008C781F39F": "MBR partition scheme",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
	"E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
	"5808C8AA-7E8F-42E0-85D2-E1E90434CFB3": "Microsoft LDM metadata",
	"AF9B60A0-1431-4F62-BC68-3311714A69AD": "Microsoft LDM data",
	"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery environment",
	"E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D": "Microsoft Storage Spaces",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux home",
	"3B8F8425-20E0-4F3B-907F-1A25A76F98E8": "Linux server data",
	"BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
	"CA7D7CCB-63ED-4C53-861C-1742536059CC": "Linux LUKS",
	"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
	"44479540-F297-41B2-9AF7-D131D5F0458A": "Linux root (x86)",
	"B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "Linux root (ARM-64)",
	"8DA63339-0007-60C0-C436-083AC8230908": "Linux reserved",
	"516E7CB4-6ECF-11D6-8FF8-00022D09712B": "FreeBSD data",
	"83BD6B9D-7F41-11DC-BE0B-001560B84F0F": "FreeBSD boot",
	"516E7CB5-6ECF-11D6-8FF8-00022D09712B": "FreeBSD swap",
	"516E7CB6-6ECF-11D6-8FF8-00022D09712B": "FreeBSD UFS",
	"516E7CBA-6ECF-11D6-8FF8-00022D09712B": "FreeBSD ZFS",
	"48465300-0000-11AA-AA11-00306543ECAC": "Apple HFS/HFS+",
	"7C3457EF-0000-11AA-AA11-00306543ECAC": "Apple APFS",
	"6A898CC3-1DD2-11B2-99A6-080020736631": "Solaris /usr & Apple ZFS",
	"9D275380-40AD-11DB-BF97-000C2911D1B8": "VMware VMFS",
	"AA31E02A-400F-11DB-9590-000C2911D1B8": "VMware Virtual SAN",
	"9E1A2D38-C612-4316-AA26-8B49521E5A8B": "PowerPC PReP boot",
}

// gptTypeName names a type GUID, "unknown" when it is not listed.
func gptTypeName(g string) string {
	if n, ok := gptTypes[g]; ok {
		return n
	}
	return "unknown"
}

// gptAttributeNames names the set attribute bits as sfdisk does: the
// three defined bits by name, other bits below 48 by number, and the
// type-specific bits 48-63 together as "GUID:N,M".
func gptAttributeNames(a uint64) []string {
	var out, typed []string
	for bit := range 64 {
		if a&(1<<bit) == 0 {
			continue
		}
		switch {
		case bit == 0:
			out = append(out, "RequiredPartition")
		case bit == 1:
			out = append(out, "NoBlockIOProtocol")
		case bit == 2:
			out = append(out, "LegacyBIOSBootable")
		case bit >= 48:
			typed = append(typed, fmt.Sprint(bit))
		default:
			out = append(out, fmt.Sprint(bit))
		}
	}
	if typed != nil {
		out = append(out, "GUID:"+strings.Join(typed, ","))
	}
	return out
}
