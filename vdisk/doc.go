// Package vdisk opens virtual disk images of any format this project reads
// (VHDX, qcow2, raw) through one small format-neutral interface, the way
// image.Decode sits above image/png and image/jpeg.
//
// Open identifies the format by the file's bytes (raw images, which have no
// signature, by their name or on request) and returns an Image: its format,
// its structures as fields with file offsets (for annotating a hex view),
// its findings, and the files it needs (a VHDX parent, qcow2 backing and
// data files). OpenDisk then gives the virtual disk read through all of
// them: an io.ReaderAt with extents that say, for every range, its state,
// the layer that supplies it and where its bytes lie in that layer's file.
//
// The format packages (vhdx, qcow2) stay the place for a format's own
// records; the report, the command-line tool, the browser bridge and the
// page use this package except where they draw a format's own structures.
package vdisk
