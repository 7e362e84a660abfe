package oidcprovider

import (
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/core"
)

// TestRedirectURIPolicy: a confidential client that registers a mobile
// app's own URL scheme (Immich's app.immich:///oauth-callback) gets codes
// sent there, as it does to its https URIs; what it did not register is
// refused, and so is a custom scheme for a client that registered none.
func TestRedirectURIPolicy(t *testing.T) {
	immich := &client{id: "immich", c: &core.OIDCClient{RedirectURIs: []string{
		"https://photos.example.com/auth/login", "app.immich:///oauth-callback"}}}
	web := &client{id: "grafana", c: &core.OIDCClient{RedirectURIs: []string{
		"https://grafana.example.com/login/generic_oauth", "http://127.0.0.1:3000/login/generic_oauth"}}}
	for _, tc := range []struct {
		c   *client
		uri string
		ok  bool
	}{
		{immich, "https://photos.example.com/auth/login", true},
		{immich, "app.immich:///oauth-callback", true},
		{immich, "app.immich:///other", false},
		{immich, "app.evil:///oauth-callback", false},
		{immich, "https://photos.example.com/auth/login/", false},
		{web, "https://grafana.example.com/login/generic_oauth", true},
		{web, "http://127.0.0.1:3000/login/generic_oauth", true},
		{web, "http://127.0.0.1:3001/login/generic_oauth", false},
		{web, "app.immich:///oauth-callback", false},
	} {
		err := op.ValidateAuthReqRedirectURI(tc.c, tc.uri, oidc.ResponseTypeCode)
		if (err == nil) != tc.ok {
			t.Errorf("%s, %s: %v, want allowed %v", tc.c.id, tc.uri, err, tc.ok)
		}
	}
	if immich.ApplicationType() != op.ApplicationTypeNative || web.ApplicationType() != op.ApplicationTypeWeb {
		t.Errorf("application types: immich %v, grafana %v", immich.ApplicationType(), web.ApplicationType())
	}
}
