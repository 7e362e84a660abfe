// Package identity reads what an external OpenID Connect provider says
// about the account that signed in — the claims of its ID token and
// userinfo — and makes a Gatehouse username from them. It is pure: no
// network, no store.
package identity

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/policies"
	"golang.org/x/text/unicode/norm"
)

// External is what a provider says about the account that signed
// in, from a verified ID token (and the userinfo endpoint for what the
// token lacks).
type External struct {
	Subject           string
	Email             string
	EmailVerified     bool
	Name              string
	PreferredUsername string
	Groups            []string
	// HasGroups: the groups claim was present (possibly empty).
	HasGroups bool
}

// FromClaims reads the standard claims and the groups claim.
func FromClaims(c map[string]any, groupsClaim string) *External {
	str := func(k string) string { v, _ := c[k].(string); return strings.TrimSpace(v) }
	id := &External{Subject: str("sub"), Email: str("email"), Name: str("name"), PreferredUsername: str("preferred_username")}
	switch v := c["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string: // some providers send "true"
		id.EmailVerified = v == "true"
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(str("given_name") + " " + str("family_name"))
	}
	if groupsClaim != "" {
		switch v := c[groupsClaim].(type) {
		case []any:
			id.HasGroups = true
			for _, g := range v {
				if s, ok := g.(string); ok && s != "" && len(id.Groups) < MaxGroups {
					id.Groups = append(id.Groups, s)
				}
			}
		case string:
			id.HasGroups = true
			if v != "" {
				id.Groups = []string{v}
			}
		}
	}
	return id
}

// UsernameBase derives a username from the provider's preferred_username
// (its local part when it is an email address) or else the email
// address's local part: lowercased, accents removed, other characters
// dropped or turned into "-", at most 32 characters. "" when neither gives
// two usable characters.
func UsernameBase(preferred, email string) string {
	for _, cand := range []string{preferred, email} {
		if at := strings.LastIndexByte(cand, '@'); at >= 0 {
			cand = cand[:at]
		}
		if b := SanitizeUsername(cand); len(b) >= policies.MinNameLength {
			return b
		}
	}
	return ""
}

// SanitizeUsername keeps what a username may hold.
func SanitizeUsername(s string) string {
	var b strings.Builder
	sep := true // no separator at the start or twice in a row
	for _, r := range norm.NFKD.String(strings.ToLower(strings.TrimSpace(s))) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
			sep = false
		case r == '.' || r == '-' || r == '_' || r == '+' || unicode.IsSpace(r):
			if !sep {
				if r == '+' || unicode.IsSpace(r) {
					r = '-'
				}
				b.WriteRune(r)
				sep = true
			}
		}
	}
	out := b.String()
	if len(out) > policies.MaxNameLength {
		out = out[:policies.MaxNameLength]
	}
	return strings.TrimRight(out, ".-_")
}

// UsernameCandidate is the n-th username tried for base: base itself,
// then base2, base3… (base shortened to keep 32 characters).
func UsernameCandidate(base string, n int) string {
	if n <= 1 {
		return base
	}
	suffix := strconv.Itoa(n)
	if len(base)+len(suffix) > policies.MaxNameLength {
		base = strings.TrimRight(base[:policies.MaxNameLength-len(suffix)], ".-_")
	}
	return base + suffix
}

// MaxUsernameTries bounds the numeric suffixes tried for a new user.
const MaxUsernameTries = 100

// MaxGroups bounds how many external groups are looked at.
const MaxGroups = 256
