package policies

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxRedirectLength is the longest return URL RedirectPolicy.Clean accepts,
// in bytes.
const MaxRedirectLength = 2048

// maxDecodeLayers bounds how many rounds of percent-decoding Clean looks
// through; a return URL still changing after that many is refused.
const maxDecodeLayers = 4

// RedirectPolicy says where the portal may send a browser after login (the
// `rd` return URL), so that Gatehouse cannot be used as an open redirect.
type RedirectPolicy struct {
	// Portal is the portal's base URL (scheme and host, with an optional
	// port). Relative return URLs resolve against it, its host is always
	// allowed, and when its scheme is https, http targets are refused. With
	// a nil Portal, relative return URLs are refused.
	Portal *url.URL
	// CookieDomain, when set (e.g. "example.com"), allows that host and
	// every subdomain of it.
	CookieDomain string
	// AppHosts are further allowed hostnames, such as those of registered
	// apps. A port, if any, is ignored.
	AppHosts []string
}

// Clean returns the absolute URL to send the browser to and true, or
// ("", false) when rd is not an allowed target.
//
// Allowed are paths starting with a single "/", resolved against Portal, and
// absolute http or https URLs whose host — compared without port, ignoring
// case, after IDNA mapping and without a trailing dot — is Portal's host,
// CookieDomain or a subdomain of it, or one of AppHosts. The returned URL is
// rebuilt from the checked parts, with the host in its normalized ASCII form.
//
// Refused are, among others: scheme-relative ("//host") and
// backslash tricks, user info, other schemes, hosts without "//", IP
// literals that are not allowed hosts, and control characters, white space,
// backslashes or leading double slashes hidden behind one or more rounds of
// percent-encoding.
func (p RedirectPolicy) Clean(rd string) (string, bool) {
	if rd == "" || len(rd) > MaxRedirectLength || !utf8.ValidString(rd) {
		return "", false
	}
	// Raw white space and control characters are refused outright: browsers
	// strip some of them (tabs, newlines) before parsing, Go does not.
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	if !cleanLayers(rd, false) {
		return "", false
	}
	u, err := url.Parse(rd)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	if u.Scheme == "" {
		return p.cleanRelative(rd, u)
	}
	return p.cleanAbsolute(rd, u)
}

// cleanRelative handles a return URL without scheme.
func (p RedirectPolicy) cleanRelative(rd string, u *url.URL) (string, bool) {
	if p.Portal == nil || u.Host != "" || !strings.HasPrefix(rd, "/") || strings.HasPrefix(rd, "//") {
		return "", false
	}
	if _, ok := normHost(p.Portal.Hostname()); !ok {
		return "", false
	}
	// Check the path after dot segments are resolved too: "/..//evil.com"
	// becomes "//evil.com".
	out := p.Portal.ResolveReference(u)
	if !cleanLayers(u.EscapedPath(), true) || !cleanLayers(out.EscapedPath(), true) {
		return "", false
	}
	return bounded(out.String())
}

// bounded refuses a result that re-escaping made longer than
// MaxRedirectLength, so that every result is itself accepted by Clean.
func bounded(s string) (string, bool) {
	if len(s) > MaxRedirectLength {
		return "", false
	}
	return s, true
}

// cleanAbsolute handles a return URL with a scheme.
func (p RedirectPolicy) cleanAbsolute(rd string, u *url.URL) (string, bool) {
	switch u.Scheme {
	case "https":
	case "http":
		if p.Portal != nil && strings.EqualFold(p.Portal.Scheme, "https") {
			return "", false
		}
	default:
		return "", false
	}
	// The authority must follow "scheme://" directly: browsers read
	// "https:/evil.com" and "https:///evil.com" as host evil.com.
	if !strings.HasPrefix(rd[len(u.Scheme)+1:], "//") || u.Host == "" || strings.Contains(u.Host, "%") {
		return "", false
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", false
		}
	}
	host, ok := normHost(u.Hostname())
	if !ok || !p.allowed(host) {
		return "", false
	}
	if !cleanLayers(u.EscapedPath(), true) {
		return "", false
	}
	out := *u
	out.Host = host
	if strings.Contains(host, ":") {
		out.Host = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		out.Host = net.JoinHostPort(host, port)
	}
	return bounded(out.String())
}

// allowed reports whether the normalized host may be redirected to.
func (p RedirectPolicy) allowed(host string) bool {
	if p.Portal != nil {
		if h, ok := normHost(p.Portal.Hostname()); ok && h == host {
			return true
		}
	}
	if d, ok := normHost(strings.TrimPrefix(p.CookieDomain, ".")); ok && p.CookieDomain != "" {
		if host == d {
			return true
		}
		if _, err := netip.ParseAddr(d); err != nil && strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	for _, a := range p.AppHosts {
		if h, _, err := net.SplitHostPort(a); err == nil {
			a = h
		}
		a = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]")
		if h, ok := normHost(a); ok && h == host {
			return true
		}
	}
	return false
}

// normHost returns a hostname in the form used for comparison: an IP
// address in canonical form, or a DNS name in lower-case ASCII (IDNA) without
// a trailing dot. It refuses names with characters outside letters, digits,
// "-" and ".", empty labels, and names a browser would read as an IPv4
// address written in a non-canonical way ("127.1", "0x7f.1", "2130706433").
func normHost(h string) (string, bool) {
	if h == "" {
		return "", false
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		return a.String(), true
	}
	h = strings.TrimSuffix(h, ".")
	if !utf8.ValidString(h) {
		return "", false
	}
	ascii, err := idna.Lookup.ToASCII(h)
	if err != nil || ascii == "" || len(ascii) > 253 {
		return "", false
	}
	// The ASCII form must be stable, so that what was checked is what the
	// browser looks up.
	if again, err := idna.Lookup.ToASCII(ascii); err != nil || again != ascii {
		return "", false
	}
	ascii = strings.ToLower(ascii)
	labels := strings.Split(ascii, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isLowerASCII(c) && !isDigitASCII(c) && c != '-' {
				return "", false
			}
		}
	}
	if looksNumeric(labels[len(labels)-1]) {
		return "", false
	}
	return ascii, true
}

// looksNumeric reports whether a last label makes a browser parse the host
// as an IPv4 address (WHATWG URL "ends in a number").
func looksNumeric(l string) bool {
	if strings.HasPrefix(l, "0x") {
		l = l[2:]
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isDigitASCII(c) && (c < 'a' || c > 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if !isDigitASCII(l[i]) {
			return false
		}
	}
	return true
}

// cleanLayers percent-decodes s again and again and reports whether no layer
// holds a control character or a backslash and, when noDoubleSlash is set,
// no layer starts with "//". Invalid escapes are left as they are. A string
// still changing after maxDecodeLayers rounds is refused.
func cleanLayers(s string, noDoubleSlash bool) bool {
	for range maxDecodeLayers + 1 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < ' ' || c == 0x7f || c == '\\' {
				return false
			}
		}
		if noDoubleSlash && strings.HasPrefix(s, "//") {
			return false
		}
		next := unescapeLenient(s)
		if next == s {
			return true
		}
		s = next
	}
	return false
}

// unescapeLenient decodes every valid %XX escape of s and keeps the rest.
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return isDigitASCII(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case isDigitASCII(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
