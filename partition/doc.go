// Package partition reads the partition table of a virtual disk: an MBR
// with its extended partitions (the chain of EBRs), a GPT (primary header,
// the backup used and reported when the primary is bad, the entries
// array, the protective MBR), or no table at all with a filesystem at
// offset 0. It also reads LVM2 physical volumes: the label, the PV header
// and the volume group metadata, mapping each logical volume to ranges of
// the physical volume.
//
// Every structure carries its offset on the disk, and Table.Fields names
// their bytes for annotating a hex view of the disk. Problems are reported
// as findings; only a disk that cannot be read at all yields an error.
// Work is bounded on hostile tables: the GPT entries array, the EBR chain
// and LVM metadata are all capped.
package partition
