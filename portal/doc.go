// Package portal is Gatehouse's identity service and its HTTP surface: the
// access check the guard runs on every request, sessions, password login,
// first-owner setup, the server-rendered pages and the JSON API.
package portal
