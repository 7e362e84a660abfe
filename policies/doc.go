// Package policies holds Gatehouse's pure decisions — roles and permissions, per-app access, username, password and redirect rules — with no I/O.
package policies
