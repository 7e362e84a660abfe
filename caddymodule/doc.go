// Package caddymodule is Gatehouse's Caddy glue: the `gatehouse` app, the
// `gatehouse` guard and `gatehouse_portal` HTTP handlers, their Caddyfile
// syntax, the admin-API routes and the `caddy gatehouse` CLI. It holds no
// business rules; those live in core and policies.
package caddymodule
