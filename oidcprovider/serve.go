package oidcprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// ServeHTTP serves the provider's paths (see Handles). Before the library
// sees a request it checks what must never reach a client's redirect URI
// (the client and its exact redirect_uri at /authorize) and authenticates
// the client at the token endpoint with one answer for every failure.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithValue(r.Context(), actorKey{}, &core.Actor{Via: core.ViaOIDC, IP: p.cfg.ClientIP(r), UserAgent: core.Truncate(r.UserAgent(), 256)})
	if p.cfg.Logger != nil {
		ctx = context.WithValue(ctx, logKey{}, p.cfg.Logger)
	}
	r = r.WithContext(ctx)
	switch r.URL.Path {
	case DiscoveryPath, tokenPath, userinfoPath, keysPath:
		if cors(w, r) {
			return
		}
	}
	switch r.URL.Path {
	case DiscoveryPath:
		p.serveDiscovery(w, r)
		return
	case keysPath:
		// Not the library's: the JWKS holds the assertion keys too, which
		// the library must never verify a token with (assertion.go).
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		WriteJWKS(w, p.JWKS())
		return
	case authorizePath:
		if !p.checkAuthorize(w, r) {
			return
		}
		p.handler.ServeHTTP(&issWriter{ResponseWriter: w, iss: p.issuer}, r)
		return
	case callbackPath:
		p.handler.ServeHTTP(&issWriter{ResponseWriter: w, iss: p.issuer}, r)
		redactLocation(w.Header())
		return
	case tokenPath, introspectPath, revokePath:
		if !p.checkClientAuth(w, r) {
			return
		}
		if r.URL.Path == tokenPath {
			p.serveToken(w, r)
			return
		}
	case "/oidc/device_authorization":
		http.NotFound(w, r)
		return
	}
	p.handler.ServeHTTP(w, r)
}

// cors answers the cross-origin preflight of the endpoints browsers call
// from another origin (no credentials), and reports whether it answered.
func cors(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// checkAuthorize shows on the portal (never redirects) an /authorize
// request whose client is unknown, whose redirect_uri is not one of the
// client's, compared exactly, or that repeats a parameter (see
// checkAuthorizeParams).
func (p *Provider) checkAuthorize(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		p.cfg.ErrorPage(w, r, http.StatusBadRequest, "Bad sign-in request", "The app sent a request that could not be read.")
		return false
	}
	id := r.Form.Get("client_id")
	var c *core.OIDCClient
	if len(r.Form["client_id"]) == 1 {
		_, c, _ = p.core.Access.OIDCClient(id)
	}
	switch checkAuthorizeParams(r.Form, c) {
	case nil:
		return true
	case errRepeatedParam:
		p.refuse(r.Context(), "", "", "authorize: a parameter is repeated")
		p.cfg.ErrorPage(w, r, http.StatusBadRequest, "Bad sign-in request", "The app sent a request that repeats a parameter, so you were not sent back.")
	case errUnknownClient:
		p.refuse(r.Context(), "", "", "authorize: unknown client")
		p.cfg.ErrorPage(w, r, http.StatusBadRequest, "Unknown app", "The app that sent you here is not registered with this sign-in service.")
	default:
		p.refuse(r.Context(), id, "", "authorize: redirect_uri not registered")
		p.cfg.ErrorPage(w, r, http.StatusBadRequest, "Sign-in refused", "The app asked to return to an address it has not registered, so you were not sent back.")
	}
	return false
}

// checkClientAuth authenticates the client of a token, introspection or
// revocation request: an unknown client, a wrong secret and a missing one
// get the same 401. A public client (no secret) goes on to the library at
// the token endpoint, which requires PKCE, and at the revocation
// endpoint, which revokes its own tokens only.
func (p *Provider) checkClientAuth(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
		return false
	}
	cred, err := parseClientAuth(r.Header.Values("Authorization"), r.Form, r.URL.Query())
	if err != nil {
		p.refuse(r.Context(), "", "", "client authentication: "+err.Error())
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return false
	}
	if _, c, err := p.core.Access.OIDCClient(cred.id); err == nil && c.Public && cred.secret == "" &&
		(r.URL.Path == tokenPath || r.URL.Path == revokePath && !cred.basic) {
		p.clientAuthenticated(r.Context())
		return true
	}
	if _, err := p.core.Access.CheckClientSecret(r.Context(), cred.id, cred.secret); err != nil {
		if err == core.ErrBusy {
			writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again")
			return false
		}
		known := ""
		if _, _, err := p.core.Access.OIDCClient(cred.id); err == nil {
			known = cred.id
		}
		p.refuse(r.Context(), known, "", "client authentication failed for client id "+strconv.Quote(core.Truncate(cred.id, 64)))
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return false
	}
	p.clientAuthenticated(r.Context())
	return true
}

// clientAuthenticated tells Config.ClientAuthenticated, if set.
func (p *Provider) clientAuthenticated(ctx context.Context) {
	if p.cfg.ClientAuthenticated != nil {
		p.cfg.ClientAuthenticated(ctx)
	}
}

// AuthenticatesClient reports whether path is an endpoint where clients
// authenticate (token, introspection, revocation).
func AuthenticatesClient(path string) bool {
	return path == tokenPath || path == introspectPath || path == revokePath
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveDiscovery serves the library's discovery document, trimmed to what
// the provider does (code flow, S256, no device flow) and with RFC 9207's
// flag.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	rec := &bufferWriter{header: http.Header{}}
	p.handler.ServeHTTP(rec, r)
	var doc map[string]any
	if rec.status != 0 && rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &doc) != nil {
		http.Error(w, "discovery unavailable", http.StatusInternalServerError)
		return
	}
	doc["response_types_supported"] = []string{"code"}
	doc["response_modes_supported"] = []string{"query"}
	doc["grant_types_supported"] = []string{"authorization_code", "refresh_token"}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic", "client_secret_post", "none"}
	doc["authorization_response_iss_parameter_supported"] = true
	doc["backchannel_logout_supported"] = true
	doc["backchannel_logout_session_supported"] = true
	delete(doc, "device_authorization_endpoint")
	delete(doc, "request_object_signing_alg_values_supported")
	b, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// bufferWriter keeps a response in memory.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(s int)           { b.status = s }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

// issWriter adds iss (RFC 9207) to a redirect to the client's redirect
// URI: an authorization response, success or error.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (i *issWriter) WriteHeader(status int) {
	if status >= 300 && status < 400 {
		if loc := i.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, i.iss+"/") {
			if u, err := url.Parse(loc); err == nil {
				q := u.Query()
				if q.Has("code") || q.Has("error") {
					q.Set("iss", i.iss)
					u.RawQuery = q.Encode()
					i.Header().Set("Location", u.String())
				}
			}
		}
	}
	i.ResponseWriter.WriteHeader(status)
}

// redactLocation hides the code in the Location header of an authorization
// response once it is written: the client has it, and an access log that
// records response headers (Caddy's does) must not.
func redactLocation(h http.Header) {
	loc := h.Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		h.Del("Location")
		return
	}
	if q := u.Query(); q.Has("code") {
		q.Set("code", "REDACTED")
		u.RawQuery = q.Encode()
		h.Set("Location", u.String())
	}
}
