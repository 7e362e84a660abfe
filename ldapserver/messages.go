package ldapserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// LDAP application tags (RFC 4511, section 4.2 onwards).
const (
	appBindRequest      = 0
	appBindResponse     = 1
	appUnbindRequest    = 2
	appSearchRequest    = 3
	appSearchEntry      = 4
	appSearchDone       = 5
	appModifyRequest    = 6
	appModifyResponse   = 7
	appAddRequest       = 8
	appAddResponse      = 9
	appDelRequest       = 10
	appDelResponse      = 11
	appModDNRequest     = 12
	appModDNResponse    = 13
	appCompareRequest   = 14
	appCompareResponse  = 15
	appAbandonRequest   = 16
	appExtendedRequest  = 23
	appExtendedResponse = 24
)

// Result codes (RFC 4511, appendix A).
const (
	resultSuccess                = 0
	resultOperationsError        = 1
	resultProtocolError          = 2
	resultSizeLimitExceeded      = 4
	resultAuthMethodNotSupported = 7
	resultUnavailableCritical    = 12
	resultConfidentialityReq     = 13
	resultNoSuchObject           = 32
	resultInvalidDNSyntax        = 34
	resultInvalidCredentials     = 49
	resultInsufficientAccess     = 50
	resultBusy                   = 51
	resultUnavailable            = 52
	resultUnwillingToPerform     = 53
	resultOther                  = 80
)

// OIDs of the extended operations and controls the server knows.
const (
	oidStartTLS       = "1.3.6.1.4.1.1466.20037"
	oidWhoAmI         = "1.3.6.1.4.1.4203.1.11.3"
	oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"
	oidNoticeOfDiscon = "1.3.6.1.4.1.1466.20036"
	oidPagedResults   = "1.2.840.113556.1.4.319"
	oidAllOperational = "1.3.6.1.4.1.4203.1.5.1" // "+" (RFC 3673)
)

// maxMessageBytes bounds one request. LDAP requests are small (a bind, a
// search with its filter); the largest filters apps send (SSSD's long ORs
// of names) stay far below. A bigger message closes the connection before
// it is read, so a client cannot make the server buffer more.
const maxMessageBytes = 64 << 10

// errTooBig and errMalformed close the connection that sent them.
var (
	errTooBig    = errors.New("message too big")
	errMalformed = errors.New("malformed message")
)

// readMessage reads one LDAPMessage: a definite-length SEQUENCE of at most
// maxMessageBytes. The header is read first so that an announced length
// past the limit is refused without reading the body.
func readMessage(r *bufio.Reader, onHeader func()) (*ber.Packet, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if onHeader != nil {
		onHeader()
	}
	if tag != 0x30 { // universal, constructed, SEQUENCE
		return nil, errMalformed
	}
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	hdr := []byte{tag, first}
	length := int(first)
	if first&0x80 != 0 {
		n := int(first & 0x7f)
		if n == 0 || n > 4 { // indefinite length, or beyond any limit
			return nil, errMalformed
		}
		length = 0
		for range n {
			b, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			hdr = append(hdr, b)
			length = length<<8 | int(b)
		}
	}
	if length > maxMessageBytes {
		return nil, errTooBig
	}
	buf := make([]byte, len(hdr)+length)
	copy(buf, hdr)
	if _, err := io.ReadFull(r, buf[len(hdr):]); err != nil {
		return nil, err
	}
	p, err := ber.DecodePacketErr(buf)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return p, nil
}

// request is one decoded LDAPMessage.
type request struct {
	id       int64
	op       *ber.Packet
	controls []control
}

// control is one request control.
type control struct {
	oid      string
	critical bool
	value    []byte
	hasValue bool
}

// parseRequest checks the LDAPMessage envelope.
func parseRequest(p *ber.Packet) (*request, error) {
	if p.ClassType != ber.ClassUniversal || p.TagType != ber.TypeConstructed || p.Tag != ber.TagSequence || len(p.Children) < 2 || len(p.Children) > 3 {
		return nil, errMalformed
	}
	idp := p.Children[0]
	id, ok := idp.Value.(int64)
	if idp.ClassType != ber.ClassUniversal || idp.Tag != ber.TagInteger || !ok || id < 0 || id > 1<<31-1 {
		return nil, errMalformed
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication {
		return nil, errMalformed
	}
	req := &request{id: id, op: op}
	if len(p.Children) == 3 {
		cp := p.Children[2]
		if cp.ClassType != ber.ClassContext || cp.Tag != 0 || cp.TagType != ber.TypeConstructed {
			return nil, errMalformed
		}
		for _, c := range cp.Children {
			if c.Tag != ber.TagSequence || len(c.Children) < 1 || len(c.Children) > 3 || c.Children[0].Tag != ber.TagOctetString {
				return nil, errMalformed
			}
			ctl := control{oid: c.Children[0].Data.String()}
			for _, f := range c.Children[1:] {
				switch {
				case f.Tag == ber.TagBoolean && f.TagType == ber.TypePrimitive:
					b, _ := f.Value.(bool)
					ctl.critical = b
				case f.Tag == ber.TagOctetString && f.TagType == ber.TypePrimitive:
					ctl.value, ctl.hasValue = f.Data.Bytes(), true
				default:
					return nil, errMalformed
				}
			}
			req.controls = append(req.controls, ctl)
		}
	}
	return req, nil
}

// octets returns the content of a primitive packet (any class), or false.
func octets(p *ber.Packet) (string, bool) {
	if p == nil || p.TagType != ber.TypePrimitive || p.Data == nil {
		return "", false
	}
	return p.Data.String(), true
}

// envelope wraps a response op in an LDAPMessage.
func envelope(id int64, op *ber.Packet, controls ...*ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, c := range controls {
			cs.AppendChild(c)
		}
		p.AppendChild(cs)
	}
	return p
}

// result is an LDAPResult with the application tag tag.
func result(tag, code int, matched, diag string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(tag), nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matched, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	return op
}

// extendedResult is an ExtendedResponse, with responseName and
// responseValue when not empty.
func extendedResult(code int, diag, name string, value *string) *ber.Packet {
	op := result(appExtendedResponse, code, "", diag)
	if name != "" {
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, name, ""))
	}
	if value != nil {
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 11, *value, ""))
	}
	return op
}

// responseTag is the response to each request that gets an LDAPResult.
var responseTag = map[ber.Tag]int{
	appBindRequest:     appBindResponse,
	appSearchRequest:   appSearchDone,
	appModifyRequest:   appModifyResponse,
	appAddRequest:      appAddResponse,
	appDelRequest:      appDelResponse,
	appModDNRequest:    appModDNResponse,
	appCompareRequest:  appCompareResponse,
	appExtendedRequest: appExtendedResponse,
}
