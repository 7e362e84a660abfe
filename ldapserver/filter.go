package ldapserver

import (
	"errors"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// Search filters (RFC 4511, section 4.5.1.7), compiled once per search
// from the request's BER and evaluated on each candidate entry.
//
// Matching is case-insensitive for every type the tree holds (they are all
// caseIgnore strings or DNs). A type the tree does not hold is absent from
// every entry: its equality, substring, ordering and presence items are
// false, so "(!(nsAccountLock=TRUE))" — which apps written for other
// servers send — keeps every entry, as lldap and Active Directory do,
// instead of RFC 4511's Undefined dropping them all.

// Filter choice tags.
const (
	filterAnd        = 0
	filterOr         = 1
	filterNot        = 2
	filterEquality   = 3
	filterSubstrings = 4
	filterGreater    = 5
	filterLess       = 6
	filterPresent    = 7
	filterApprox     = 8
	filterExtensible = 9
)

// Limits of one filter: deeper or bigger ones are refused (protocolError
// would be the answer to a malformed one; these are well-formed but too
// costly to evaluate over every entry).
const (
	maxFilterDepth = 32
	maxFilterNodes = 512
)

var errFilter = errors.New("invalid or too complex filter")

// filter is one compiled filter item.
type filter struct {
	op   int
	attr string // canonical lowercase type
	val  string // lowercase assertion value
	// ref is the entry an assertion on a DN-valued type names
	// (nodeNone: nothing in the tree, never matched).
	ref            node
	initial, final string
	any            []string
	kids           []*filter
	// never is an item that matches nothing (an unknown matching rule).
	never bool
}

// equalityRules are the extensible-match rules treated as equality; the
// Active Directory rule "in chain" is one: groups here are not nested.
var equalityRules = map[string]bool{
	"": true, "2.5.13.1": true, "distinguishednamematch": true, "2.5.13.2": true, "caseignorematch": true,
	"2.5.13.5": true, "caseexactmatch": true, "2.5.13.17": true, "octetstringmatch": true,
	"caseignoreia5match": true, "1.3.6.1.4.1.1466.109.114.2": true, "1.2.840.113556.1.4.1941": true,
}

// compileFilter compiles the filter packet p for the tree t.
func compileFilter(t *tree, p *ber.Packet) (*filter, error) {
	nodes := 0
	return compileItem(t, p, 0, &nodes)
}

func compileItem(t *tree, p *ber.Packet, depth int, nodes *int) (*filter, error) {
	*nodes++
	if p == nil || p.ClassType != ber.ClassContext || depth > maxFilterDepth || *nodes > maxFilterNodes {
		return nil, errFilter
	}
	f := &filter{op: int(p.Tag)}
	switch f.op {
	case filterAnd, filterOr, filterNot:
		if p.TagType != ber.TypeConstructed || (f.op == filterNot && len(p.Children) != 1) {
			return nil, errFilter
		}
		for _, c := range p.Children {
			k, err := compileItem(t, c, depth+1, nodes)
			if err != nil {
				return nil, err
			}
			f.kids = append(f.kids, k)
		}
	case filterEquality, filterGreater, filterLess, filterApprox:
		if p.TagType != ber.TypeConstructed || len(p.Children) != 2 {
			return nil, errFilter
		}
		a, ok1 := octets(p.Children[0])
		v, ok2 := octets(p.Children[1])
		if !ok1 || !ok2 {
			return nil, errFilter
		}
		f.setAssertion(t, a, v)
	case filterPresent:
		a, ok := octets(p)
		if !ok {
			return nil, errFilter
		}
		f.attr = canonicalAttr(a)
	case filterSubstrings:
		if p.TagType != ber.TypeConstructed || len(p.Children) != 2 || p.Children[1].TagType != ber.TypeConstructed {
			return nil, errFilter
		}
		a, ok := octets(p.Children[0])
		if !ok || len(p.Children[1].Children) == 0 {
			return nil, errFilter
		}
		f.attr = canonicalAttr(a)
		for i, s := range p.Children[1].Children {
			v, ok := octets(s)
			if !ok || s.ClassType != ber.ClassContext {
				return nil, errFilter
			}
			v = strings.ToLower(v)
			switch s.Tag {
			case 0:
				if i != 0 {
					return nil, errFilter
				}
				f.initial = v
			case 1:
				f.any = append(f.any, v)
			case 2:
				if i != len(p.Children[1].Children)-1 {
					return nil, errFilter
				}
				f.final = v
			default:
				return nil, errFilter
			}
		}
	case filterExtensible:
		if p.TagType != ber.TypeConstructed {
			return nil, errFilter
		}
		var rule, typ, val string
		hasVal := false
		for _, c := range p.Children {
			s, ok := octets(c)
			if !ok || c.ClassType != ber.ClassContext {
				return nil, errFilter
			}
			switch c.Tag {
			case 1:
				rule = strings.ToLower(s)
			case 2:
				typ = s
			case 3:
				val, hasVal = s, true
			case 4: // dnAttributes: the RDNs of the DN are not matched
			default:
				return nil, errFilter
			}
		}
		if !hasVal {
			return nil, errFilter
		}
		f.op = filterEquality
		f.setAssertion(t, typ, val)
		f.never = typ == "" || !equalityRules[rule]
	default:
		return nil, errFilter
	}
	return f, nil
}

// setAssertion sets the type and value of an attribute value assertion.
func (f *filter) setAssertion(t *tree, attr, val string) {
	f.attr = canonicalAttr(attr)
	f.val = strings.ToLower(strings.TrimSpace(val))
	if dnValued(f.attr) {
		if rdns, err := parseDN(val); err == nil {
			f.ref, _ = t.locate(rdns)
		}
	}
}

// match reports whether e satisfies f.
func (f *filter) match(s *Server, e *entry) bool {
	switch f.op {
	case filterAnd:
		for _, k := range f.kids {
			if !k.match(s, e) {
				return false
			}
		}
		return true
	case filterOr:
		for _, k := range f.kids {
			if k.match(s, e) {
				return true
			}
		}
		return false
	case filterNot:
		return !f.kids[0].match(s, e)
	case filterPresent:
		if f.attr == "objectclass" {
			return true
		}
		return len(e.values(s.tree, s, f.attr)) > 0
	}
	if f.never {
		return false
	}
	if dnValued(f.attr) {
		// distinguishedNameMatch only: DNs have no ordering or substrings.
		return (f.op == filterEquality || f.op == filterApprox) && f.ref.kind != nodeNone && e.hasDN(f.attr, f.ref)
	}
	if numeric(f.attr) {
		return f.matchNumber(e.values(s.tree, s, f.attr))
	}
	for _, v := range e.values(s.tree, s, f.attr) {
		v = strings.ToLower(v)
		switch f.op {
		case filterEquality, filterApprox:
			if v == f.val {
				return true
			}
		case filterGreater:
			if v >= f.val {
				return true
			}
		case filterLess:
			if v <= f.val {
				return true
			}
		case filterSubstrings:
			if substringMatch(v, f.initial, f.any, f.final) {
				return true
			}
		}
	}
	return false
}

// substringMatch matches v against initial*any*…*final.
func substringMatch(v, initial string, any []string, final string) bool {
	if !strings.HasPrefix(v, initial) {
		return false
	}
	v = v[len(initial):]
	for _, a := range any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, final)
}

// usernameHint returns the lowercase username an equality item on uid
// requires, when f is one or an AND holding one: the search then reads
// that one account instead of walking every user.
// groupHint returns the group (lowercase) every entry f matches must be a
// member of: an equality on memberOf naming a group, alone or in an and.
// A search walks only that group's members then.
func (f *filter) groupHint() (string, bool) {
	switch f.op {
	case filterEquality:
		if f.attr == "memberof" && !f.never && f.ref.kind == nodeGroup {
			return f.ref.name, true
		}
	case filterAnd:
		for _, k := range f.kids {
			if g, ok := k.groupHint(); ok {
				return g, true
			}
		}
	}
	return "", false
}

func (f *filter) usernameHint() (string, bool) {
	switch f.op {
	case filterEquality:
		if f.attr == "uid" && !f.never {
			return f.val, true
		}
	case filterAnd:
		for _, k := range f.kids {
			if n, ok := k.usernameHint(); ok {
				return n, true
			}
		}
	}
	return "", false
}

// matchNumber is match for an integer type: equality and ordering compare
// numbers; an assertion that is not one matches nothing (and substrings,
// which integers lack, nothing either).
func (f *filter) matchNumber(vals []string) bool {
	want, err := strconv.ParseInt(f.val, 10, 64)
	if err != nil {
		return false
	}
	for _, v := range vals {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch f.op {
		case filterEquality, filterApprox:
			if n == want {
				return true
			}
		case filterGreater:
			if n >= want {
				return true
			}
		case filterLess:
			if n <= want {
				return true
			}
		}
	}
	return false
}
