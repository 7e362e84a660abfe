// Package ldapserver is the directory server: a read-only LDAPv3 front
// door over the identity core, for the apps that only speak LDAP
// (Jellyfin, Nextcloud, Gitea, SSSD, …).
//
// A bind is a sign-in like any other (core.Auth.BindPassword: the same
// argon2id check, lockout and audit, with the actor's Via set to ldap),
// bind clients are the core's (core.Credentials.CheckLDAPClient), and
// searches are answered from the store's in-memory user directory, never
// from Badger scans. The tree:
//
//	<base>                          (dc=gatehouse unless configured)
//	ou=users,<base>                 uid=<username>,ou=users,<base>: inetOrgPerson
//	ou=groups,<base>                cn=<group>,ou=groups,<base>: groupOfNames, groupOfUniqueNames
//	ou=system,<base>                cn=<client>,ou=system,<base>: bind clients
//
// The package owns its connections (no LDAP server library): the accept
// loop refuses addresses outside the allow list before reading a byte,
// every message is size-limited and read under deadlines, requests on one
// connection are served one at a time, and anything malformed closes that
// connection only. Nothing a client sends is logged.
package ldapserver
