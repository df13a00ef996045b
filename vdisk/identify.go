package vdisk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Format names an image format.
type Format string

// Formats this package opens.
const (
	VHDX  Format = "vhdx"
	QCOW2 Format = "qcow2"
	Raw   Format = "raw"
)

// ErrUnknownFormat means the file is not an image in a format this package
// reads; an *UnsupportedError wrapping it says what the file is when that
// can be told.
var ErrUnknownFormat = errors.New("not a disk image format this tool reads")

// UnsupportedError says what a file is when it is not in a format this
// package reads.
type UnsupportedError struct {
	Name string // the file's name
	What string // what the file looks like, e.g. "a VHD (Virtual PC) image", or "" when unknown
}

func (e *UnsupportedError) Error() string {
	if e.What == "" {
		return fmt.Sprintf("%s: %v (no VHDX or qcow2 signature; open it as raw if it is a plain disk image)", e.Name, ErrUnknownFormat)
	}
	return fmt.Sprintf("%s: %s, which this tool does not read (%v)", e.Name, e.What, ErrUnknownFormat)
}

// Unwrap returns ErrUnknownFormat.
func (e *UnsupportedError) Unwrap() error { return ErrUnknownFormat }

// rawExtensions are the file name endings of raw disk images.
var rawExtensions = []string{".img", ".raw", ".dd", ".bin", ".iso", ".001"}

// signature is a byte pattern at an offset (negative: from the end) that
// names a format.
type signature struct {
	at    int64
	magic string
	what  string
}

// foreign lists formats this package recognises but does not read.
var foreign = []signature{
	{0, "conectix", "a VHD (Virtual PC / Hyper-V generation 1) image, dynamic or differencing"},
	{-512, "conectix", "a VHD (Virtual PC / Hyper-V generation 1) image"},
	{-511, "conectix", "a VHD (Virtual PC) image with a 511-byte footer"},
	{0, "KDMV", "a VMDK (VMware) sparse extent"},
	{0, "COWD", "a VMDK (VMware ESX) COW sparse extent"},
	{0, "# Disk DescriptorFile", "a VMDK (VMware) descriptor file"},
	{64, "\x7f\x10\xda\xbe", "a VDI (VirtualBox) image"},
	{0, "QED\x00", "a QED (QEMU enhanced disk) image"},
	{0, "WithoutFreeSpace", "a Parallels (HDD) image"},
	{0, "WithouFreSpacExt", "a Parallels (HDD) image"},
	{-512, "koly", "an Apple disk image (DMG)"},
	{0, "LUKS\xba\xbe", "a LUKS-encrypted volume"},
	{0, "\x1f\x8b", "a gzip-compressed file (decompress it first)"},
	{0, "\xfd7zXZ\x00", "an xz-compressed file (decompress it first)"},
	{0, "(\xb5/\xfd", "a zstd-compressed file (decompress it first)"},
	{0, "BZh", "a bzip2-compressed file (decompress it first)"},
	{0, "PK\x03\x04", "a ZIP archive"},
	{0, "7z\xbc\xaf\x27\x1c", "a 7-Zip archive"},
	{0, "EVF\x09\x0d\x0a\xff\x00", "an EnCase (E01) evidence file"},
	{0, "AFF", "an AFF forensic image"},
}

// Identify tells the format of the file in r (size bytes) named name. A
// file with the VHDX or qcow2 signature is that format; a file without one
// is raw when its name ends in a raw image extension (.img, .raw, .dd,
// .bin, .iso, .001). Otherwise it returns an error wrapping
// ErrUnknownFormat, an *UnsupportedError saying what the file is when a
// known signature tells.
func Identify(r io.ReaderAt, size int64, name string) (Format, error) {
	var head [512]byte
	n, err := r.ReadAt(head[:min(int64(len(head)), max(size, 0))], 0)
	if err != nil && err != io.EOF && n == 0 && size > 0 {
		return "", fmt.Errorf("%s: reading the first bytes: %w", name, err)
	}
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte("vhdxfile")):
		return VHDX, nil
	case bytes.HasPrefix(h, []byte("QFI\xfb")):
		if len(h) >= 8 {
			if v := binary.BigEndian.Uint32(h[4:8]); v == 1 {
				return "", &UnsupportedError{Name: name, What: "a qcow (version 1) image"}
			}
		}
		return QCOW2, nil
	}
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/")))
	for _, e := range rawExtensions {
		if ext == e {
			return Raw, nil
		}
	}
	for _, s := range foreign {
		if matches(r, size, h, s) {
			return "", &UnsupportedError{Name: name, What: s.what}
		}
	}
	return "", &UnsupportedError{Name: name}
}

// matches reports whether s's pattern is in the file.
func matches(r io.ReaderAt, size int64, head []byte, s signature) bool {
	at := s.at
	if at < 0 {
		at += size
	}
	if at < 0 || at+int64(len(s.magic)) > size {
		return false
	}
	if at+int64(len(s.magic)) <= int64(len(head)) {
		return string(head[at:at+int64(len(s.magic))]) == s.magic
	}
	buf := make([]byte, len(s.magic))
	_, err := r.ReadAt(buf, at)
	return err == nil && string(buf) == s.magic
}
