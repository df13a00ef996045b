package vhdx

import (
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/google/uuid"
)

// ParentLocatorVHDX is the locator type of a VHDX parent locator.
var ParentLocatorVHDX = uuid.MustParse("B04AEFB7-D19E-4A81-B789-25B8E9445913")

// ParentLocator is the decoded parent locator metadata item (MS-VHDX 2.6.2.6).
type ParentLocator struct {
	Offset        int64      `json:"offset"`
	LocatorType   uuid.UUID  `json:"locator_type"`
	KeyValueCount uint16     `json:"key_value_count"`
	Entries       []KeyValue `json:"entries"`
}

// KeyValue is one key/value pair of a parent locator.
type KeyValue struct {
	Offset      int64  `json:"offset"` // file offset of the 12-byte entry
	Key         string `json:"key"`
	Value       string `json:"value"`
	KeyOffset   int64  `json:"key_offset"` // file offset of the key text
	KeyLength   uint16 `json:"key_length"`
	ValueOffset int64  `json:"value_offset"` // file offset of the value text
	ValueLength uint16 `json:"value_length"`
}

// Get returns the value of key and whether it is present.
func (p *ParentLocator) Get(key string) (string, bool) {
	for _, e := range p.Entries {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// parseParentLocator decodes the item bytes b found at file offset off.
// It returns what it could decode along with the first problem met.
func parseParentLocator(b []byte, off int64) (*ParentLocator, error) {
	if len(b) < 20 {
		return nil, fmt.Errorf("item is %d bytes, shorter than its 20-byte header", len(b))
	}
	p := &ParentLocator{Offset: off, LocatorType: guidAt(b), KeyValueCount: le.Uint16(b[18:])}
	var errs []error
	if p.LocatorType != ParentLocatorVHDX {
		errs = append(errs, fmt.Errorf("locator type %s is not the VHDX locator type", p.LocatorType))
	}
	if 20+12*int(p.KeyValueCount) > len(b) {
		return p, errors.Join(append(errs, fmt.Errorf("%d key/value entries do not fit in %d bytes", p.KeyValueCount, len(b)))...)
	}
	// Texts that overlap could make a 1 MiB item decode to gigabytes; the
	// texts of a well-formed locator fit in it side by side.
	text := 0
	for i := 0; i < int(p.KeyValueCount); i++ {
		e := b[20+12*i:]
		ko, vo := le.Uint32(e), le.Uint32(e[4:])
		kl, vl := le.Uint16(e[8:]), le.Uint16(e[10:])
		if text += int(kl) + int(vl); text > len(b) {
			return p, errors.Join(append(errs, fmt.Errorf("the texts of entries 0 to %d total %d bytes, more than the %d-byte item holds", i, text, len(b)))...)
		}
		kv := KeyValue{Offset: off + 20 + 12*int64(i), KeyOffset: off + int64(ko), KeyLength: kl, ValueOffset: off + int64(vo), ValueLength: vl}
		key, err := locatorText(b, ko, kl)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d key: %w", i, err))
		}
		val, err := locatorText(b, vo, vl)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d value: %w", i, err))
		}
		kv.Key, kv.Value = key, val
		p.Entries = append(p.Entries, kv)
	}
	return p, errors.Join(errs...)
}

func locatorText(b []byte, off uint32, n uint16) (string, error) {
	if n == 0 || n%2 != 0 {
		return "", fmt.Errorf("length %d is not a positive even number", n)
	}
	if uint64(off)+uint64(n) > uint64(len(b)) {
		return "", fmt.Errorf("text at %d+%d lies outside the %d-byte item", off, n, len(b))
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = le.Uint16(b[int(off)+2*i:])
	}
	for i := 0; i < len(u); i++ {
		switch {
		case utf16.IsSurrogate(rune(u[i])) && i+1 < len(u) && utf16.DecodeRune(rune(u[i]), rune(u[i+1])) != '\uFFFD':
			i++
		case utf16.IsSurrogate(rune(u[i])):
			return string(utf16.Decode(u)), fmt.Errorf("invalid UTF-16 at character %d", i)
		}
	}
	return string(utf16.Decode(u)), nil
}
