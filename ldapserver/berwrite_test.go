package ldapserver

import (
	"bytes"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

var ldapEscape = ldap.EscapeDN

// TestEntryWriterMatchesBER: the hand-written SearchResultEntry is byte
// for byte what go-asn1-ber encodes, at every length form (short, one, two
// and three length bytes) and message ids of every width, and decodes back.
func TestEntryWriterMatchesBER(t *testing.T) {
	tests := []struct {
		name      string
		id        int64
		dn        string
		attrs     []attr
		typesOnly bool
	}{
		{"small", 1, "uid=a,ou=users,dc=gatehouse", []attr{{"uid", []string{"a"}}}, false},
		{"no attributes", 127, "dc=gatehouse", nil, false},
		{"types only", 128, "uid=b,ou=users,dc=gatehouse", []attr{{"mail", []string{"b@x"}}, {"cn", []string{"B"}}}, true},
		{"one length byte", 255, "cn=g,ou=groups,dc=gatehouse", []attr{{"member", []string{strings.Repeat("m", 200)}}}, false},
		{"two length bytes", 70000, "cn=big,ou=groups,dc=gatehouse", []attr{{"member", repeat(strings.Repeat("x", 100), 300)}}, false},
		{"three length bytes", 1 << 31, "cn=huge,ou=groups,dc=gatehouse", []attr{{"member", repeat(strings.Repeat("y", 60), 1200)}}, false},
		{"empty value", 2, "uid=c,ou=users,dc=gatehouse", []attr{{"description", []string{""}}}, false},
	}
	var w entryWriter
	for _, tc := range tests {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appSearchEntry, nil, "")
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, tc.dn, ""))
		list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		for _, a := range tc.attrs {
			pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
			pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.name, ""))
			set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
			if !tc.typesOnly {
				for _, v := range a.vals {
					set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
				}
			}
			pa.AppendChild(set)
			list.AppendChild(pa)
		}
		op.AppendChild(list)
		want := envelope(tc.id, op).Bytes()
		got := w.write(tc.id, tc.dn, tc.attrs, tc.typesOnly)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, want %d\n got %x\nwant %x", tc.name, len(got), len(want), head(got), head(want))
			continue
		}
		p, err := ber.DecodePacketErr(append([]byte(nil), got...))
		if err != nil || len(p.Children) != 2 || p.Children[0].Value.(int64) != tc.id {
			t.Errorf("%s: decodes to %v, %v", tc.name, p, err)
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func head(b []byte) []byte { return b[:min(len(b), 24)] }

// TestEscapeValueFastPath: the shortcut for plain names gives go-ldap's
// answer, and names needing escapes still get them.
func TestEscapeValueFastPath(t *testing.T) {
	for _, v := range []string{"alice", "Bob.Smith-2_x", "", "a,b", "#lead", "trail ", "é", "a+b", "x=y", "a\\b", " lead"} {
		if got, want := escapeValue(v), ldapEscape(v); got != want {
			t.Errorf("escapeValue(%q) = %q, want %q", v, got, want)
		}
	}
}
