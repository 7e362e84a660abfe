package ldapserver

// A SearchResultEntry is the one message a listing sends thousands of: it
// is written here straight into a reused buffer, in BER's definite form,
// instead of as a tree of ber.Packets (which costs several allocations per
// attribute value). Everything else goes through go-asn1-ber.

// BER tags of the entry's parts.
const (
	berSequence    = 0x30
	berSet         = 0x31
	berInteger     = 0x02
	berOctetString = 0x04
	berSearchEntry = 0x64 // [APPLICATION 4], constructed
)

// entryWriter builds one SearchResultEntry message at a time. Lengths are
// written after their contents, so each constructed part reserves room for
// the longest length form this server writes (5 bytes) and is then moved
// into place.
type entryWriter struct {
	buf []byte
}

// appendLength appends n in BER's definite form.
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendOctets appends s as an OCTET STRING.
func appendOctets(b []byte, s string) []byte {
	b = append(b, berOctetString)
	b = appendLength(b, len(s))
	return append(b, s...)
}

// appendInt appends v as an INTEGER in the fewest bytes.
func appendInt(b []byte, v int64) []byte {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	b = append(b, berInteger, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// open starts a constructed part with tag and returns where its contents
// begin; close writes its length.
func (w *entryWriter) open(tag byte) int {
	w.buf = append(w.buf, tag, 0, 0, 0, 0, 0)
	return len(w.buf)
}

// close gives the part opened at start its length, moving the contents
// back over the unused room.
func (w *entryWriter) close(start int) {
	n := len(w.buf) - start
	var l [5]byte
	ll := len(appendLength(l[:0], n))
	copy(l[:], appendLength(l[:0], n))
	hdr := start - 5
	copy(w.buf[hdr:], l[:ll])
	if ll < 5 {
		copy(w.buf[hdr+ll:], w.buf[start:])
		w.buf = w.buf[:len(w.buf)-(5-ll)]
	}
}

// attr is one attribute of an entry being written.
type attr struct {
	name string
	vals []string
}

// write returns the LDAPMessage of a SearchResultEntry with message id,
// the entry's dn and attrs (with typesOnly, their names without values).
// The slice is the writer's buffer: valid until the next call.
func (w *entryWriter) write(id int64, dn string, attrs []attr, typesOnly bool) []byte {
	w.buf = w.buf[:0]
	msg := w.open(berSequence)
	w.buf = appendInt(w.buf, id)
	op := w.open(berSearchEntry)
	w.buf = appendOctets(w.buf, dn)
	list := w.open(berSequence)
	for _, a := range attrs {
		pa := w.open(berSequence)
		w.buf = appendOctets(w.buf, a.name)
		set := w.open(berSet)
		if !typesOnly {
			for _, v := range a.vals {
				w.buf = appendOctets(w.buf, v)
			}
		}
		w.close(set)
		w.close(pa)
	}
	w.close(list)
	w.close(op)
	w.close(msg)
	return w.buf
}
