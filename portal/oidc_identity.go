package portal

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// externalIdentity is what a provider says about the account that signed
// in, from a verified ID token (and the userinfo endpoint for what the
// token lacks).
type externalIdentity struct {
	Subject           string
	Email             string
	EmailVerified     bool
	Name              string
	PreferredUsername string
	Groups            []string
	// hasGroups: the groups claim was present (possibly empty).
	hasGroups bool
}

// identify exchanges code for tokens, verifies the ID token and returns
// the account it names.
func (p *oidcProvider) identify(ctx context.Context, f *oidcFlow, code string) (*externalIdentity, error) {
	d, err := p.discover()
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, errors.New("no authorization code in the answer")
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), oidcTimeout)
	defer cancel()
	tok, err := p.oauth2Config(d).Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token answer holds no ID token")
	}
	idt, err := d.Verifier(&oidc.Config{ClientID: p.ClientID, Now: p.now}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify the ID token: %w", err)
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return nil, errors.New("verify the ID token: nonce does not match")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("verify the ID token: %w", err)
		}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("read the ID token's claims: %w", err)
	}
	id := identityFromClaims(claims, p.GroupsClaim)
	if id.Subject == "" || id.Subject != idt.Subject {
		return nil, errors.New("the ID token has no subject")
	}
	if p.needsUserInfo(id) && d.UserInfoEndpoint() != "" {
		if err := p.addUserInfo(ctx, d, tok, id); err != nil {
			// The ID token was enough to sign in; the extra claims are
			// best effort.
			return id, fmt.Errorf("%w (userinfo: %v)", errPartialIdentity, err)
		}
	}
	return id, nil
}

// errPartialIdentity marks an identity that was verified but whose
// userinfo lookup failed: the sign-in goes on with the ID token's claims.
var errPartialIdentity = errors.New("userinfo unavailable")

// needsUserInfo reports whether the ID token lacks claims the userinfo
// endpoint may have.
func (p *oidcProvider) needsUserInfo(id *externalIdentity) bool {
	return id.Email == "" || (p.GroupsClaim != "" && !id.hasGroups) || (id.Name == "" && id.PreferredUsername == "")
}

// addUserInfo fills what id lacks from the userinfo endpoint. The answer
// must be about the same subject (OpenID Connect Core 5.3.2).
func (p *oidcProvider) addUserInfo(ctx context.Context, d *oidc.Provider, tok *oauth2.Token, id *externalIdentity) error {
	ui, err := d.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return err
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		return err
	}
	more := identityFromClaims(claims, p.GroupsClaim)
	if more.Subject != id.Subject {
		return fmt.Errorf("answer about subject %q, not the ID token's", more.Subject)
	}
	if id.Email == "" {
		id.Email, id.EmailVerified = more.Email, more.EmailVerified
	}
	if id.Name == "" {
		id.Name = more.Name
	}
	if id.PreferredUsername == "" {
		id.PreferredUsername = more.PreferredUsername
	}
	if !id.hasGroups && more.hasGroups {
		id.Groups, id.hasGroups = more.Groups, true
	}
	return nil
}

// identityFromClaims reads the standard claims and the groups claim.
func identityFromClaims(c map[string]any, groupsClaim string) *externalIdentity {
	str := func(k string) string { v, _ := c[k].(string); return strings.TrimSpace(v) }
	id := &externalIdentity{Subject: str("sub"), Email: str("email"), Name: str("name"), PreferredUsername: str("preferred_username")}
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
			id.hasGroups = true
			for _, g := range v {
				if s, ok := g.(string); ok && s != "" && len(id.Groups) < oidcMaxGroups {
					id.Groups = append(id.Groups, s)
				}
			}
		case string:
			id.hasGroups = true
			if v != "" {
				id.Groups = []string{v}
			}
		}
	}
	return id
}

// Usernames of new users.

// usernameBase derives a username from the provider's preferred_username
// (its local part when it is an email address) or else the email
// address's local part: lowercased, accents removed, other characters
// dropped or turned into "-", at most 32 characters. "" when neither gives
// two usable characters.
func usernameBase(preferred, email string) string {
	for _, cand := range []string{preferred, email} {
		if at := strings.LastIndexByte(cand, '@'); at >= 0 {
			cand = cand[:at]
		}
		if b := sanitizeUsername(cand); len(b) >= policies.MinNameLength {
			return b
		}
	}
	return ""
}

// sanitizeUsername keeps what a username may hold.
func sanitizeUsername(s string) string {
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

// usernameCandidate is the n-th username tried for base: base itself,
// then base2, base3… (base shortened to keep 32 characters).
func usernameCandidate(base string, n int) string {
	if n <= 1 {
		return base
	}
	suffix := strconv.Itoa(n)
	if len(base)+len(suffix) > policies.MaxNameLength {
		base = strings.TrimRight(base[:policies.MaxNameLength-len(suffix)], ".-_")
	}
	return base + suffix
}

// maxUsernameTries bounds the numeric suffixes tried for a new user.
const maxUsernameTries = 100
