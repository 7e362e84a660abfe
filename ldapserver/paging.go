package ldapserver

import (
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// parsePaging reads a paged results control value (RFC 2696).
func parsePaging(v []byte) (size int, cookie string, ok bool) {
	p, err := ber.DecodePacketErr(v)
	if err != nil || p.Tag != ber.TagSequence || len(p.Children) != 2 {
		return 0, "", false
	}
	n, ok1 := p.Children[0].Value.(int64)
	c, ok2 := octets(p.Children[1])
	if !ok1 || !ok2 || n < 0 {
		return 0, "", false
	}
	return int(min(n, 1<<30)), c, true
}

// pagingControl is the response control carrying cookie ("" when done).
func pagingControl(cookie string) *ber.Packet {
	val := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	val.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	val.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, cookie, ""))
	c := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	c.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidPagedResults, ""))
	c.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(val.Bytes()), ""))
	return c
}

// cookieOf and parseCookie are the paging cookie: "<phase>:<key>".
func cookieOf(p position) string { return strconv.Itoa(p.phase) + ":" + p.key }

func parseCookie(c string) (position, bool) {
	ph, key, ok := strings.Cut(c, ":")
	n, err := strconv.Atoi(ph)
	if !ok || err != nil || n < phBase || n > phClients || len(key) > 256 {
		return position{}, false
	}
	return position{n, key}, true
}
