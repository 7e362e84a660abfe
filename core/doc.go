// Package core is Gatehouse's identity core: the accounts, groups, roles,
// app access, credentials, sessions, settings and audit log that every
// front door shares. The portal's pages and JSON API, the guard, the CLI
// and the future LDAP and OIDC surfaces call it; none of its exported
// functions takes an HTTP request. Each call names its Actor — who acts,
// through which surface, from where and with which credential — and the
// audit log reads the actor, so an event records the same facts whichever
// door it came through.
package core
