#!/bin/sh
# Gitea / Forgejo: sign in with Gatehouse, an OAuth2 authentication source
# of provider "OpenID Connect". The flags are gitea's own
# (cmd/admin_auth_oauth.go; Forgejo's `forgejo admin auth add-oauth` takes
# the same); the Gatehouse side is examples/oidc/gitea.caddy. Run as the
# user Gitea runs as, with the secret Caddy has as GITEA_OIDC_SECRET:
#
#   GITEA_OIDC_SECRET='…' . ./gitea.sh
#
# What Gitea does with it (markbates/goth providers/openidConnect): reads
# the discovery document, asks for these scopes (adding openid), no PKCE
# (go-gitea/gitea#21376; Gatehouse takes PKCE from any client, so a version
# that sends it works as well), no nonce; the token request lets
# golang.org/x/oauth2 pick the client authentication (client_secret_basic
# first); it decodes the ID token, checks aud, iss and exp, then calls
# UserInfo and merges its claims (sub must match). The username is
# nickname, else preferred_username ([oauth2_client] USERNAME = nickname,
# the default); admins are the users whose groups claim holds --admin-group.
#
# Tested by caddymodule/oidc_clients_test.go (TestOIDCClientSettings),
# which reads this file and replays Gitea's requests with it.
gitea admin auth add-oauth \
  --name 'Gatehouse' \
  --provider openidConnect \
  --key gitea \
  --secret "$GITEA_OIDC_SECRET" \
  --auto-discover-url 'https://auth.example.com/.well-known/openid-configuration' \
  --scopes 'email,profile,groups' \
  --group-claim-name groups \
  --admin-group admins
