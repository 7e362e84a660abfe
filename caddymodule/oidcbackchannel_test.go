package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// logoutRP is a relying party's back-channel logout endpoint: it verifies
// each logout token with the provider's JWKS and keeps its claims.
type logoutRP struct {
	srv      *httptest.Server
	verifier atomic.Pointer[oidc.IDTokenVerifier]
	fail     atomic.Int32 // answer 503 to this many requests first
	mu       sync.Mutex
	got      []logoutClaims
	bad      []string
}

type logoutClaims struct {
	Iss    string                     `json:"iss"`
	Sub    string                     `json:"sub"`
	Aud    any                        `json:"aud"`
	Iat    int64                      `json:"iat"`
	Exp    int64                      `json:"exp"`
	Jti    string                     `json:"jti"`
	SID    string                     `json:"sid"`
	Nonce  *string                    `json:"nonce"`
	Events map[string]json.RawMessage `json:"events"`
}

func newLogoutRP(t *testing.T) *logoutRP {
	rp := &logoutRP{}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rp.fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rp.mu.Lock()
		defer rp.mu.Unlock()
		tok := r.PostFormValue("logout_token")
		v := rp.verifier.Load()
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || tok == "" || v == nil {
			rp.bad = append(rp.bad, "not a form POST with a logout_token")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		idt, err := v.Verify(r.Context(), tok)
		var cl logoutClaims
		if err == nil {
			err = idt.Claims(&cl)
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		switch {
		case err != nil:
			rp.bad = append(rp.bad, "verify: "+err.Error())
		case cl.Nonce != nil || cl.Jti == "" || cl.Iat == 0 || cl.Exp <= cl.Iat || cl.SID == "" || cl.Sub == "":
			rp.bad = append(rp.bad, fmt.Sprintf("claims %+v", cl))
		case string(cl.Events["http://schemas.openid.net/event/backchannel-logout"]) != "{}" || len(cl.Events) != 1:
			rp.bad = append(rp.bad, fmt.Sprintf("events %s", cl.Events))
		case !strings.Contains(string(hdr), `"typ":"logout+jwt"`):
			rp.bad = append(rp.bad, "header "+string(hdr))
		default:
			rp.got = append(rp.got, cl)
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(rp.srv.Close)
	return rp
}

// wait waits for n logout tokens (and no bad request) and takes them.
func (rp *logoutRP) wait(t *testing.T, n int) []logoutClaims {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rp.mu.Lock()
		got, bad := rp.got, rp.bad
		if len(got) >= n || len(bad) > 0 || time.Now().After(deadline) {
			rp.got, rp.bad = nil, nil
			rp.mu.Unlock()
			if len(bad) > 0 || len(got) != n {
				t.Fatalf("want %d logout tokens, got %d (%+v); refused: %v", n, len(got), got, bad)
			}
			return got
		}
		rp.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func (rp *logoutRP) none(t *testing.T) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	rp.wait(t, 0)
}

func TestOIDCBackchannelLogout(t *testing.T) {
	rp := newLogoutRP(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/logout"
	dead.Close()
	o := startOIDCLogout(t, rp.srv.URL+"/logout", `app wiki {
			oidc {
				redirect_uri http://127.0.0.1:9/wcb
				client_secret `+rpSecret+`
				backchannel_logout_uri `+deadURL+`
			}
		}`)
	rp.verifier.Store(o.provider.Verifier(&oidc.Config{ClientID: "grafana"}))
	grafana := o.conf("grafana", rpSecret, rpRedirect)
	wiki := o.conf("wiki", rpSecret, "http://127.0.0.1:9/wcb")
	root := o.signedIn("carol")

	t.Run("discovery advertises back-channel logout with sessions", func(t *testing.T) {
		var d map[string]any
		if err := o.provider.Claims(&d); err != nil || d["backchannel_logout_supported"] != true || d["backchannel_logout_session_supported"] != true {
			t.Fatalf("discovery %v: %v", d, err)
		}
	})

	t.Run("sign-out: the session's clients get a logout token with its sid and sub", func(t *testing.T) {
		c := o.signedIn("alice")
		tk, _, sid := o.tokens(c, grafana)
		_, _, _ = o.tokens(c, grafana) // a second sign-in through the same session: one token
		_ = tk
		rp.none(t)
		if resp, _ := do(t, c, "POST", o.h.portalURL("/api/v1/logout"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		got := rp.wait(t, 1)
		idt, _ := o.provider.Verifier(&oidc.Config{ClientID: "grafana", SkipExpiryCheck: true}).Verify(context.Background(), tk.Extra("id_token").(string))
		if got[0].SID != sid || got[0].Sub != idt.Subject || got[0].Iss != o.issuer {
			t.Fatalf("logout token %+v, want sid %s sub %s", got[0], sid, idt.Subject)
		}
	})

	t.Run("sign out everywhere else: only the other sessions' tokens", func(t *testing.T) {
		c1, c2, c3 := o.signedIn("alice"), o.signedIn("alice"), o.signedIn("alice")
		_, _, sid1 := o.tokens(c1, grafana)
		_, _, sid2 := o.tokens(c2, grafana)
		_, _, sid3 := o.tokens(c3, grafana)
		if sid1 == sid2 || sid2 == sid3 {
			t.Fatal("two sessions share a sid")
		}
		if resp, b := do(t, c1, "DELETE", o.h.portalURL("/api/v1/me/sessions"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("revoke others: %d %s", resp.StatusCode, b)
		}
		got := rp.wait(t, 2)
		if s := map[string]bool{got[0].SID: true, got[1].SID: true}; !s[sid2] || !s[sid3] || s[sid1] {
			t.Fatalf("logout tokens for %v; want %s and %s", s, sid2, sid3)
		}
	})

	t.Run("a user disabled or deleted: every session's clients", func(t *testing.T) {
		c := o.signedIn("bob")
		_, _, sid := o.tokens(c, grafana)
		if resp, b := do(t, root, "PATCH", o.h.portalURL("/api/v1/users/bob"), strings.NewReader(`{"active":false}`), jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("disable: %d %s", resp.StatusCode, b)
		}
		if got := rp.wait(t, 1); got[0].SID != sid {
			t.Fatalf("sid %s, want %s", got[0].SID, sid)
		}
		o.h.addUser("dan", "Correct horse battery 9", "user", "ops")
		_, _, sid = o.tokens(o.signedIn("dan"), grafana)
		if resp, b := do(t, root, "DELETE", o.h.portalURL("/api/v1/users/dan"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("delete: %d %s", resp.StatusCode, b)
		}
		if got := rp.wait(t, 1); got[0].SID != sid {
			t.Fatalf("deleted user: sid %s, want %s", got[0].SID, sid)
		}
	})

	t.Run("an admin's revoke and a password change: the sessions they end", func(t *testing.T) {
		// Alice's sessions from the subtests above end first.
		do(t, root, "DELETE", o.h.portalURL("/api/v1/users/alice/sessions"), nil, jsonAPI)
		time.Sleep(300 * time.Millisecond)
		rp.mu.Lock()
		rp.got = nil
		rp.mu.Unlock()
		for _, tc := range []struct {
			name string
			end  func(keep *http.Client)
		}{
			{"admin revokes the user's sessions", func(*http.Client) {
				if resp, b := do(t, root, "DELETE", o.h.portalURL("/api/v1/users/alice/sessions"), nil, jsonAPI); resp.StatusCode >= 300 {
					t.Fatalf("revoke: %d %s", resp.StatusCode, b)
				}
			}},
			{"password change ends the other sessions", func(keep *http.Client) {
				if resp, b := do(t, keep, "POST", o.h.portalURL("/api/v1/me/password"),
					strings.NewReader(`{"current_password":"Correct horse battery 9","password":"Correct horse battery 9!"}`), jsonAPI); resp.StatusCode >= 300 {
					t.Fatalf("password: %d %s", resp.StatusCode, b)
				}
				if resp, b := do(t, keep, "POST", o.h.portalURL("/api/v1/me/password"),
					strings.NewReader(`{"current_password":"Correct horse battery 9!","password":"Correct horse battery 9"}`), jsonAPI); resp.StatusCode >= 300 {
					t.Fatalf("password back: %d %s", resp.StatusCode, b)
				}
			}},
		} {
			keep, other := o.signedIn("alice"), o.signedIn("alice")
			_, _, sid := o.tokens(other, grafana)
			tc.end(keep)
			if got := rp.wait(t, 1); got[0].SID != sid {
				t.Fatalf("%s: sid %s, want %s", tc.name, got[0].SID, sid)
			}
		}
	})

	t.Run("RP-initiated logout: the other clients of the session too", func(t *testing.T) {
		c := o.signedIn("alice")
		_, hint, sid := o.tokens(c, grafana)
		resp, _ := do(t, c, "GET", o.issuer+"/oidc/end_session?id_token_hint="+hint, nil, browser)
		if resp.StatusCode != 200 || o.signedInStill(c) {
			t.Fatalf("end_session: %d", resp.StatusCode)
		}
		if got := rp.wait(t, 1); got[0].SID != sid {
			t.Fatalf("sid %s, want %s", got[0].SID, sid)
		}
	})

	t.Run("a client that fails is retried; one that is down never blocks the sign-out", func(t *testing.T) {
		c := o.signedIn("alice")
		_, _, _ = o.tokens(c, grafana)
		_, _, _ = o.tokens(c, wiki)
		rp.fail.Store(1)
		start := time.Now()
		if resp, _ := do(t, c, "POST", o.h.portalURL("/api/v1/logout"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("sign-out took %v", d)
		}
		rp.wait(t, 1)
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, b := do(t, root, "GET", o.h.portalURL("/api/v1/audit?action=oidc.backchannel_logout&limit=100"), nil, jsonAPI)
			if strings.Contains(string(b), `app:wiki`) && strings.Contains(string(b), "not delivered: the client did not answer (attempt 3)") &&
				strings.Contains(string(b), "delivered (attempt 2)") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit: %s", b)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("a client without a back-channel URI gets nothing; nor does an expired session", func(t *testing.T) {
		c := o.signedIn("alice")
		_, _, _ = o.tokens(c, wiki)
		if resp, _ := do(t, c, "POST", o.h.portalURL("/api/v1/logout"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		rp.none(t)
	})
	_ = oauth2.AccessTypeOffline
}
