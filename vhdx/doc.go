// Package vhdx reads Hyper-V virtual hard disk (VHDX) images as described by
// the MS-VHDX specification.
//
// An image is opened from an io.ReaderAt and its size, like archive/zip. Every
// structure the format defines (file type identifier, headers, region tables,
// metadata, log, block allocation table) is exposed with its file offset, so a
// viewer can annotate the raw bytes. The virtual disk is an io.ReaderAt of its
// own, read through the parents of a differencing disk with OpenChain. Open
// replays a dirty log in memory: the source is never written, and the
// pre-replay view stays available. Check reports every departure from the
// specification it finds, not just the first.
//
// Create, OpenWriter and WriteImage write images: OpenWriter makes every
// metadata change through the log, so an interrupted write leaves the old or
// the new data; WriteImage streams a standalone image in one pass.
//
// No input makes the package panic, hang or allocate from an unchecked length:
// problems come back as errors wrapping the sentinel values below (test them
// with errors.Is) and as *FormatError values naming the structure and offset.
package vhdx
