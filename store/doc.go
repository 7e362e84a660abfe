// Package store persists Gatehouse's users, groups, sessions, tokens, settings and audit log in Badger, or in PostgreSQL (kv.go), with in-memory caches for the request path.
package store
