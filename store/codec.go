package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Record formats. The first byte of every record value is its format
// version; decoders refuse versions they do not know, so a newer database
// is never misread by an older binary.
const (
	// versionJSON is one version byte followed by JSON: every record type.
	versionJSON = 1
	// versionBinary is one version byte followed by the record's compact
	// binary form (see binaryEncoder): sessions and users, the records a
	// cache miss on the request path reads. Decoding one costs a fraction
	// of JSON's time and allocations, and it is about half the size.
	versionBinary = 2
)

// binaryEncoder is a record type with a binary form (versionBinary);
// binaryDecoder reads it back (a type that reads part of a record may only
// decode).
//
// The form is the record's fields in a fixed order: strings as a uvarint
// length and the bytes, integers as varints, times as appendTime writes
// them, booleans as bits of one uvarint, lists as a uvarint count and the
// items. Fields are only ever appended, and a decoder reads a field added
// later only when bytes remain (records written before it existed end
// earlier). A record that ends inside the fields it must have, or has
// bytes left after every field its decoder knows (a newer binary wrote
// it), is refused.
type binaryEncoder interface {
	appendBinary(b []byte) []byte
}

// binaryDecoder: see binaryEncoder.
type binaryDecoder interface {
	decodeBinary(r *recordReader) error
}

// encode serialises v: the binary form when v has one, else JSON.
func encode(v any) ([]byte, error) {
	if br, ok := v.(binaryEncoder); ok {
		return br.appendBinary(append(make([]byte, 0, 256), versionBinary)), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode %T: %w", v, err)
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, versionJSON)
	return append(out, b...), nil
}

// decode parses a value written by encode (in either format) into v.
func decode(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("store: decode %T: empty record", v)
	}
	switch b[0] {
	case versionJSON:
		if err := json.Unmarshal(b[1:], v); err != nil {
			return fmt.Errorf("store: decode %T: %w", v, err)
		}
		return nil
	case versionBinary:
		br, ok := v.(binaryDecoder)
		if !ok {
			return fmt.Errorf("store: decode %T: binary record for a type without a binary form", v)
		}
		r := recordReader{s: string(b[1:])}
		if err := br.decodeBinary(&r); err != nil {
			return fmt.Errorf("store: decode %T: %w", v, err)
		}
		if r.err == nil && len(r.s) > 0 {
			r.err = fmt.Errorf("%d bytes after the last field (written by a newer version?)", len(r.s))
		}
		if r.err != nil {
			return fmt.Errorf("store: decode %T: %w", v, r.err)
		}
		return nil
	default:
		return fmt.Errorf("store: decode %T: unknown record version %d", v, b[0])
	}
}

// appendString appends s as a uvarint length and its bytes.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendStrings appends a uvarint count and each string.
func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// appendTime appends t as uvarint 0 for the zero time, else uvarint
// nanoseconds+1 and varint Unix seconds. The location is not kept:
// decoded times are UTC.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(t.Nanosecond())+1)
	return binary.AppendVarint(b, t.Unix())
}

// errShortRecord is a record that ends before its last field.
var errShortRecord = errors.New("record is cut short")

// recordReader reads a binary record's fields in order. It keeps the first
// error and returns zero values after it, so a decoder reads every field
// and checks err once. Strings it returns share one copy of the record.
type recordReader struct {
	s   string
	err error
}

// more reports whether bytes remain to read, for a field added to a record
// after others were written without it.
func (r *recordReader) more() bool { return r.err == nil && len(r.s) > 0 }

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < len(r.s); i++ {
		c := r.s[i]
		if i == binary.MaxVarintLen64 || i == binary.MaxVarintLen64-1 && c > 1 {
			r.err = errors.New("varint overflows 64 bits")
			return 0
		}
		if c < 0x80 {
			r.s = r.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.err = errShortRecord
	return 0
}

func (r *recordReader) varint() int64 {
	ux := r.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)) {
		r.err = errShortRecord
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// strs reads a list written by appendStrings; an empty list is nil.
func (r *recordReader) strs() []string {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(r.s)) { // every item takes at least its length byte
		r.err = errShortRecord
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

func (r *recordReader) time() time.Time {
	ns := r.uvarint()
	if r.err != nil || ns == 0 {
		return time.Time{}
	}
	sec := r.varint()
	if ns > 1e9 {
		if r.err == nil {
			r.err = fmt.Errorf("time with %d nanoseconds", ns-1)
		}
		return time.Time{}
	}
	return time.Unix(sec, int64(ns-1)).UTC()
}
