// Package filesystem identifies and describes the filesystem or volume
// container that starts at offset 0 of a byte range of a virtual disk (a
// whole disk or one partition).
//
// Probe reads only superblocks, boot sectors and the few structures they
// point to (an NTFS $Volume record, a FAT or exFAT root directory, the FAT
// or allocation bitmap to count free clusters), all bounded by the size of
// the range. It recognises NTFS, FAT12/16/32, exFAT, ext2/3/4, XFS, Btrfs,
// Linux swap, ISO 9660, LVM2 physical volumes and LUKS, and describes each
// with the names and formats blkid uses for labels and UUIDs. Browsing the
// files of a filesystem is the job of the subpackages.
package filesystem
