package qcow2

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
)

// TestFieldsPointAtTheirBytes decodes every numeric field from the file
// bytes Fields says it lives in, and compares with the value shown.
func TestFieldsPointAtTheirBytes(t *testing.T) {
	for name, b := range fixtures(t) {
		img, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		fields := img.Fields()
		checked := 0
		for i, f := range fields {
			if i > 0 && f.Offset < fields[i-1].Offset {
				t.Errorf("%s: field %s/%s out of order", name, f.Structure, f.Name)
			}
			if f.Offset < 0 || f.Offset+f.Length > int64(len(b)) {
				t.Errorf("%s: field %s/%s at %d+%d outside the file", name, f.Structure, f.Name, f.Offset, f.Length)
				continue
			}
			word := strings.Fields(f.Value + " ")[0]
			v, err := strconv.ParseUint(word, 0, 64)
			if err != nil || f.Length > 8 || f.Name == "entries" || strings.HasPrefix(f.Name, "entry ") || f.Name == "date_sec" || f.Name == "id_str" || f.Name == "name" {
				continue
			}
			var raw [8]byte
			copy(raw[8-f.Length:], b[f.Offset:f.Offset+f.Length])
			if got := binary.BigEndian.Uint64(raw[:]); got != v {
				t.Errorf("%s: field %s/%s at %d shows %d, the bytes hold %d", name, f.Structure, f.Name, f.Offset, v, got)
			}
			checked++
		}
		if checked < 12 {
			t.Errorf("%s: only %d numeric fields checked", name, checked)
		}
	}
}
