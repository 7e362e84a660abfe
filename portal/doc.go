// Package portal is the HTTP surface of Gatehouse's identity core (package
// core): the server-rendered pages and the JSON API, the session and flow
// cookies, the route table with each route's policy, CSRF and per-address
// throttling, and the guard's per-request check (Check), which strips and
// sets the identity headers around the core's access decision. Its
// handlers decode, resolve the caller (a core.Actor), call the core and
// encode.
package portal
