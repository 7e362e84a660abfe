package portal

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse-auth/gatehouse/core/identity"
	"golang.org/x/oauth2"
)

// identify exchanges code for tokens, verifies the ID token and returns
// the account it names.
func (p *oidcProvider) identify(ctx context.Context, f *oidcFlow, code string) (*identity.External, error) {
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
	id := identity.FromClaims(claims, p.GroupsClaim)
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
func (p *oidcProvider) needsUserInfo(id *identity.External) bool {
	return id.Email == "" || (p.GroupsClaim != "" && !id.HasGroups) || (id.Name == "" && id.PreferredUsername == "")
}

// addUserInfo fills what id lacks from the userinfo endpoint. The answer
// must be about the same subject (OpenID Connect Core 5.3.2).
func (p *oidcProvider) addUserInfo(ctx context.Context, d *oidc.Provider, tok *oauth2.Token, id *identity.External) error {
	ui, err := d.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return err
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		return err
	}
	more := identity.FromClaims(claims, p.GroupsClaim)
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
	if !id.HasGroups && more.HasGroups {
		id.Groups, id.HasGroups = more.Groups, true
	}
	return nil
}

// Usernames of new users.
