package caddymodule

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestGuardRefusalsBypassHandleErrors: the guard's refusals (login
// redirect, 401, the 403 page and JSON) are its own answers, which a site's
// handle_errors does not replace; the 503 of a failed store is a Caddy
// error, which handle_errors brands. (The README's "Directive
// `gatehouse <app>`" section says so.)
func TestGuardRefusalsBypassHandleErrors(t *testing.T) {
	h := newHarness(t)
	port := freePort(t)
	h.start(h.caddyfile("", fmt.Sprintf(`
http://127.0.0.1:%[1]d {
	gatehouse branded {
		allow_groups staff
	}
	reverse_proxy %[2]s
	handle_errors {
		respond "branded {err.status_code}" {err.status_code}
	}
}
`, port, strings.TrimPrefix(h.upstream.URL, "http://"))))
	h.addUser("bob", bobPW, "user", "other")
	bob := h.client()
	h.apiLogin(bob, "bob", bobPW)
	siteURL := fmt.Sprintf("http://127.0.0.1:%d/", port)

	for _, tc := range []struct {
		name   string
		client *http.Client
		hdr    map[string]string
		status int
		want   string // in the body or the Location
	}{
		{"anonymous browser", h.client(), browser, http.StatusFound, h.portalURL("/login?rd=")},
		{"anonymous script", h.client(), jsonAPI, http.StatusUnauthorized, `"error"`},
		{"denied browser", bob, browser, http.StatusForbidden, "No access"},
		{"denied script", bob, jsonAPI, http.StatusForbidden, `"error"`},
	} {
		resp, b := do(t, tc.client, "GET", siteURL, nil, tc.hdr)
		got := string(b) + resp.Header.Get("Location")
		if resp.StatusCode != tc.status || !strings.Contains(got, tc.want) || strings.Contains(got, "branded") {
			t.Errorf("%s: %d %q, want %d with %q from Gatehouse", tc.name, resp.StatusCode, got, tc.status, tc.want)
		}
	}

	// Close the database under the running config, as a failing disk
	// would leave it (as TestSecurityStoreFailureFailsClosed does).
	stores.Range(func(k, v any) bool {
		if k == h.storage {
			_ = v.(storeHandle).Close()
		}
		return true
	})
	resp, b := do(t, bob, "GET", siteURL, nil, jsonAPI)
	if resp.StatusCode != http.StatusServiceUnavailable || string(b) != "branded 503" {
		t.Errorf("store down: %d %q, want handle_errors' 503", resp.StatusCode, b)
	}
}
