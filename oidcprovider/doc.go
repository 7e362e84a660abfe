// Package oidcprovider is Gatehouse's OpenID Connect provider: the
// authorization code flow (PKCE), discovery, JWKS, the token, UserInfo,
// introspection, revocation and end-session endpoints, built on
// github.com/zitadel/oidc/v3/pkg/op with our own storage behind it. Clients
// are the apps that declare `oidc` (core.Access.OIDCClient); users, their
// groups and the apps' access rules come from core. The interactive step of
// /authorize (who is signed in, step-up, "no access") lives in the portal,
// which calls Complete.
//
// Auth requests, codes and access tokens live in the store
// (store.OIDCFlows), codes and access tokens under a keyed hash, so every
// node sharing a PostgreSQL database can continue any flow: a code made on
// one node is exchanged once on any, and an access token revoked on one is
// refused by all. Refresh tokens are in the store too, under a keyed hash,
// rotated at each use. Ending a portal session on purpose revokes the
// refresh and access tokens issued through it (in the store).
//
// It also signs the guard's identity assertions (Assertions, assertion.go:
// `headers { jwt NAME }`), with keys of their own published in the same
// JWKS, whether or not the provider runs.
package oidcprovider
