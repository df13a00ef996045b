// Package qcow2 reads and checks QEMU copy-on-write version 2 and 3 (qcow2)
// images as described by QEMU's docs/interop/qcow2.txt.
//
// An image is opened from an io.ReaderAt and its size, like archive/zip.
// Every structure the format defines (header, header extensions, backing
// file name, L1 table, refcount table, snapshot table) is exposed with its
// file offset, so a viewer can annotate the raw bytes; L2 tables and
// refcount blocks are read on demand through a bounded cache, so opening a
// huge sparse image costs what its header and L1 table cost.
//
// The virtual disk is an io.ReaderAt of its own (Disk), read through the
// backing chain and the external data file with OpenChain, or through an
// internal snapshot's L1 table with OpenChainSnapshot. It decodes every
// cluster kind: unallocated, zero, preallocated zero, normal, compressed
// with deflate or zstd, and extended L2 subclusters. Check compares the
// refcounts with the references found in the L1 and L2 tables the way
// `qemu-img check` does, and reports more.
//
// No input makes the package panic, hang or allocate from an unchecked
// length: problems come back as errors wrapping the sentinel values below
// (test them with errors.Is) and as *FormatError values naming the
// structure and offset.
package qcow2
