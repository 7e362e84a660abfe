#!/bin/sh
# Gitea / Forgejo authentication source "LDAP (via BindDN)" for Gatehouse's
# directory server. The flags are gitea's own (cmd/admin_auth_ldap.go;
# Forgejo's `forgejo admin auth add-ldap` takes the same). Run as the
# user Gitea runs as:
#
#   SECRET='<the secret of POST /api/v1/ldap/clients {"name":"gitea","app":"<gatehouse app name>"}>'
#   . ./gitea.sh
#
# LDAPS on ldap_server's listen_tls port (6360); for StartTLS use
# --security-protocol StartTLS --port 3890. The user filter finds a user by
# username or e-mail address (%[1]s is the login, twice).
#
# Tested by caddymodule/ldap_clients_test.go (TestLDAPClientSettings), which
# reads this file and replays Gitea's LDAP operations.
gitea admin auth add-ldap \
  --name 'Gatehouse' \
  --security-protocol LDAPS \
  --host 'ldap.example.com' \
  --port 6360 \
  --bind-dn 'cn=gitea,ou=system,dc=example,dc=com' \
  --bind-password "$SECRET" \
  --user-search-base 'ou=users,dc=example,dc=com' \
  --user-filter '(&(objectClass=inetOrgPerson)(|(uid=%[1]s)(mail=%[1]s)))' \
  --admin-filter '(memberOf=cn=admins,ou=groups,dc=example,dc=com)' \
  --username-attribute uid \
  --firstname-attribute givenName \
  --surname-attribute sn \
  --email-attribute mail \
  --public-ssh-key-attribute sshPublicKey \
  --synchronize-users \
  --page-size 500
