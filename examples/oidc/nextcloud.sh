#!/bin/sh
# Nextcloud: sign in with Gatehouse through the "OpenID Connect user
# backend" app (user_oidc), as an occ command. The options are the app's
# own (lib/Command/UpsertProvider.php); the Gatehouse side is
# examples/oidc/nextcloud.caddy. Run from Nextcloud's directory as the web
# server's user, with the secret Caddy has as NEXTCLOUD_OIDC_SECRET in the
# environment (--clientsecret-env reads it from there):
#
#   NEXTCLOUD_OIDC_SECRET='…' . ./nextcloud.sh
#
# What user_oidc does with it (lib/Controller/LoginController.php): reads
# the discovery document; PKCE S256 when it lists S256 (config.php
# 'user_oidc' => ['use_pkce' => true], the default); a nonce; the claims
# request parameter naming the mapped claims; client_secret_post when the
# discovery document lists it, else client_secret_basic. It verifies the
# ID token against the JWKS (iss, aud, azp, nonce, exp) and reads the
# user from the ID token alone (UserInfo only with
# 'enrich_login_id_token_with_userinfo' => true): so Gatehouse must put
# the scope's claims in the ID token, which it does unless the app says
# userinfo_only_claims. The user id is preferred_username (with
# --unique-uid 0, as is; 1 hashes it with the provider id), and with
# --group-provisioning 1 the user is put in the groups the groups claim
# names (created as needed).
#
# Tested by caddymodule/oidc_clients_test.go (TestOIDCClientSettings),
# which reads this file and replays user_oidc's requests with it.
php occ user_oidc:provider Gatehouse --clientid nextcloud --clientsecret-env NEXTCLOUD_OIDC_SECRET --discoveryuri 'https://auth.example.com/.well-known/openid-configuration' --scope 'openid email profile groups' --unique-uid 0 --mapping-uid preferred_username --mapping-display-name name --mapping-email email --mapping-groups groups --group-provisioning 1 --postlogouturi 'https://cloud.example.com/' --send-id-token-hint 1
