// Package filesystem identifies, describes and browses the filesystem
// that starts at offset 0 of a byte range of a virtual disk (a whole disk
// or one partition).
//
// Probe reads only superblocks, boot sectors and the few structures they
// point to (the NTFS $Volume and $Bitmap records, a FAT or exFAT root
// directory, the FAT or allocation bitmap to count free clusters), all
// bounded by the size of the range. It recognises NTFS, FAT12/16/32,
// exFAT, ext2/3/4, XFS, Btrfs, Linux swap, ISO 9660, LVM2 physical volumes
// and LUKS, and describes each with the names and formats blkid uses for
// labels and UUIDs.
//
// FS is the interface of a browsable filesystem, with Entry, Walk, Find
// and bodyfile lines over it; the subpackages (ext, fat, ntfs) implement
// it over third-party readers, and browse opens the right one.
package filesystem
