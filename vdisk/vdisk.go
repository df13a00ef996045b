package vdisk

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reference is a file an image needs to read its virtual disk: a VHDX
// parent, a qcow2 backing file or a qcow2 external data file.
type Reference struct {
	Role   Role     // what the file is to the image
	Name   string   // the file name the image expects, for messages
	Paths  []string // where the image says it is, in the order to try ('/'-separated)
	Format Format   // the format the image says it has, "" when it does not say
	Offset int64    // file offset where the image names it (VHDX parent locator, ...), -1 if none
}

// Role is what a layer is to the disk: the image opened, a parent, a
// backing file or a data file.
type Role string

// Roles of layers and references.
const (
	RoleImage    Role = "image"
	RoleParent   Role = "parent"
	RoleBacking  Role = "backing file"
	RoleDataFile Role = "data file"
)

// A Resolver finds the file ref that the image named from needs. It returns
// its contents, size and a name that identifies it (such as a cleaned path;
// equal names mean the same file), or an error when there is none.
type Resolver func(from string, ref Reference) (r io.ReaderAt, size int64, name string, err error)

// Options adjust Open.
type Options struct {
	// Format opens the file as this format instead of identifying it (the
	// way to open a raw image whose name does not say it is one).
	Format Format
	// Snapshot names an internal snapshot (qcow2: its ID or name) whose
	// disk OpenDisk reads instead of the current one.
	Snapshot string
}

// Severity grades a finding.
type Severity string

// Severities, from worst to mildest.
const (
	SeverityError   Severity = "error"   // the file breaks its specification
	SeverityWarning Severity = "warning" // suspicious, but readable
	SeverityInfo    Severity = "info"    // worth knowing
)

// Finding is one result of a check, in any format.
type Finding struct {
	Code      string   `json:"code"` // stable identifier, e.g. "header.checksum"
	Severity  Severity `json:"severity"`
	Structure string   `json:"structure"` // e.g. "header 2", "L2 table 3"
	Offset    int64    `json:"offset"`    // file offset of the bytes concerned, -1 if none
	Message   string   `json:"message"`   // one sentence for people
}

// Field names the bytes of one field of a structure, for annotating a hex
// view of the file.
type Field struct {
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Structure string `json:"structure"`
	Name      string `json:"field"`
	Value     string `json:"value"`
}

// Image is one opened image file.
type Image struct {
	Format Format
	Name   string
	Size   int64 // size of the file
	// Format-specific views; exactly one is set for VHDX and qcow2.
	f format
}

// format is what each format package provides to this one.
type format interface {
	// native returns the format package's image (*vhdx.Image, ...), or nil.
	native() any
	fields() []Field
	check() []Finding
	// references lists the files the image needs, in the order OpenDisk
	// looks for them.
	references() []Reference
	// openDisk opens the virtual disk through the image's references.
	openDisk(img *Image, resolve Resolver, snapshot string) (*Disk, error)
}

// Open opens the image in r, which holds size bytes, named name (a path or
// a file name: it names the image in messages and is the base for relative
// references). When err is non-nil but the format was recognised, the
// returned Image is also non-nil and holds what could be parsed.
func Open(r io.ReaderAt, size int64, name string, opt Options) (*Image, error) {
	f := opt.Format
	if f == "" {
		var err error
		if f, err = Identify(r, size, name); err != nil {
			return nil, err
		}
	}
	img := &Image{Format: f, Name: name, Size: size}
	var err error
	switch f {
	case VHDX:
		img.f, err = openVHDX(r, size)
	case QCOW2:
		img.f, err = openQCOW2(r, size)
	case Raw:
		img.f = &rawImage{r: r, size: size}
	default:
		return nil, fmt.Errorf("%s: unknown format %q: %w", name, f, ErrUnknownFormat)
	}
	if img.f == nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err != nil {
		return img, fmt.Errorf("%s: %w", name, err)
	}
	return img, nil
}

// Native returns the format package's own view of the image: a
// *vhdx.Image, a *qcow2.Image, or nil for raw.
func (img *Image) Native() any { return img.f.native() }

// Fields lists every field of the structures found in the file, for hex
// annotation.
func (img *Image) Fields() []Field { return img.f.fields() }

// Check validates this image alone; Disk.Check also checks its layers.
func (img *Image) Check() []Finding { return img.f.check() }

// References lists the files the image needs to read its disk.
func (img *Image) References() []Reference { return img.f.references() }

// OpenDisk opens the virtual disk of img, through the files it refers to
// as resolve finds them, and for qcow2 the internal snapshot opt.Snapshot
// when it is not empty. A missing or mismatched file gives a *ChainError.
func (img *Image) OpenDisk(resolve Resolver, snapshot string) (*Disk, error) {
	return img.f.openDisk(img, resolve, snapshot)
}

// Chain errors; a *ChainError wraps one of them.
var (
	// ErrMissing means the resolver could not find a referenced file.
	ErrMissing = errors.New("referenced file not found")
	// ErrMismatch means the file found is not the one the image refers to.
	ErrMismatch = errors.New("referenced file does not match")
	// ErrLoop means a file appears twice in its own chain.
	ErrLoop = errors.New("chain loops")
	// ErrTooDeep means a chain is longer than its format allows here.
	ErrTooDeep = errors.New("chain too deep")
)

// ChainError describes a problem between an image and a file it refers to.
type ChainError struct {
	From string    // the image that refers to the file
	Ref  Reference // what it refers to (Name is the name it expects)
	Err  error     // ErrMissing, ErrMismatch, ErrLoop or ErrTooDeep
	Msg  string    // details, for people
	// Found is the part of the chain resolved before the problem, the
	// image opened first.
	Found []Layer
	// Partial, when a VHDX parent is missing, is the disk of Found: its
	// extents still describe every range, those that need the missing
	// parent with State StateNeedsParent and Layer len(Found); only reads
	// of those ranges fail.
	Partial *Disk
	cause   error // the format package's own error
}

func (e *ChainError) Error() string {
	if e.cause != nil {
		return e.cause.Error() // the format package's own words
	}
	return fmt.Sprintf("%s -> %s %s: %s", e.From, e.Ref.Role, e.Ref.Name, e.Msg)
}

// Unwrap returns the sentinel and the format package's own error.
func (e *ChainError) Unwrap() []error { return []error{e.Err, e.cause} }

// Code is the finding code of the problem: chain.loop, chain.too_deep, or
// chain.<role>_missing and chain.<role>_mismatch where role is parent,
// backing_file or data_file.
func (e *ChainError) Code() string {
	role := strings.ReplaceAll(string(e.Ref.Role), " ", "_")
	switch {
	case errors.Is(e.Err, ErrMissing):
		return "chain." + role + "_missing"
	case errors.Is(e.Err, ErrLoop):
		return "chain.loop"
	case errors.Is(e.Err, ErrTooDeep):
		return "chain.too_deep"
	}
	return "chain." + role + "_mismatch"
}
