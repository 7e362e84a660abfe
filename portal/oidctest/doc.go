// Package oidctest runs a real OpenID Connect provider in the test process
// and drives Gatehouse's browser sign-in flow against it with a plain
// http.Client, for tests (of any package) that sign in with OIDC. It is
// not meant for production code.
//
// The provider is github.com/oauth2-proxy/mockoidc, listening on
// 127.0.0.1 on a free port and shut down when the test ends. Each
// authorization request it answers signs in the next user queued with
// QueueUser (or mockoidc's default user when none is queued):
//
//	idp := oidctest.NewProvider(t)
//	// ... configure a Gatehouse provider "mock" with idp.Issuer(),
//	// idp.ClientID() and idp.ClientSecret() ...
//	resp, page := idp.SignIn(t, client, oidctest.SignInURL(portal, "mock", "/profile"),
//		oidctest.User{Subject: "s-1", Claims: map[string]any{"email": "a@example.com", "email_verified": true}})
//	// resp is the first answer that is not a redirect: the page after
//	// the sign-in, or the portal's refusal.
//
// The client must not follow redirects itself (CheckRedirect returning
// http.ErrUseLastResponse) and should have a cookie jar: Follow, Start and
// Authorize take one step at a time so that a test can stop or tamper
// with the flow between them.
package oidctest
