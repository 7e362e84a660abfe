package caddymodule

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// placeholderSite is a site guarded by the app "seen" (group staff) that
// copies every {http.auth.user.*} placeholder into a request header, with
// request_header (which Caddy orders after the guard, as the README's
// example relies on) and with reverse_proxy's header_up, and writes Caddy's
// JSON access log to access.log.
func placeholderSite(h *harness, port int) string {
	return fmt.Sprintf(`
http://127.0.0.1:%[1]d {
	log {
		output file %[2]s/access.log
		format json
	}
	gatehouse seen {
		allow_groups staff
	}
	request_header X-Seen-Id {http.auth.user.id}
	request_header X-Seen-Email {http.auth.user.email}
	request_header X-Seen-Name {http.auth.user.name}
	request_header X-Seen-Groups {http.auth.user.groups}
	request_header X-Seen-Role {http.auth.user.role}
	request_header X-Seen-Impersonator {http.auth.user.impersonator}
	reverse_proxy %[3]s {
		header_up X-Up-Id {http.auth.user.id}
	}
}
`, port, h.dir, strings.TrimPrefix(h.upstream.URL, "http://"))
}

// TestUserPlaceholdersThroughCaddy: on allow, the guard sets the
// {http.auth.user.*} placeholders (id is the username), so request_header,
// header_up and the access log's user_id see the user, for a session, an
// API key and an impersonation; refused requests set none (user_id "").
func TestUserPlaceholdersThroughCaddy(t *testing.T) {
	h := newHarness(t)
	port := freePort(t)
	h.start(h.caddyfile("", placeholderSite(h, port)))
	h.addUser("adam", ownerPW, "admin", "admins")
	h.addUser("alice", alicePW, "user", "staff", "ops")
	h.addUser("bob", alicePW, "user", "other")
	siteURL := func(q string) string { return fmt.Sprintf("http://127.0.0.1:%d/?%s", port, q) }

	alice, bob, adam := h.client(), h.client(), h.client()
	h.apiLogin(alice, "alice", alicePW)
	h.apiLogin(bob, "bob", alicePW)
	h.apiLogin(adam, "adam", ownerPW)
	key := secKey(t, h, alice, "inherit")

	aliceSees := map[string]string{"X-Seen-Id": "alice", "X-Up-Id": "alice", "X-Seen-Email": "alice@example.com",
		"X-Seen-Name": "Alice", "X-Seen-Groups": "ops,staff", "X-Seen-Role": "user", "X-Seen-Impersonator": ""}
	allowed := []struct {
		name   string
		client *http.Client
		hdr    map[string]string
		want   map[string]string
	}{
		{"session", alice, jsonAPI, aliceSees},
		{"api-key", h.client(), map[string]string{"Accept": "application/json", "Authorization": "Bearer " + key}, aliceSees},
		{"admin", adam, jsonAPI, map[string]string{"X-Seen-Id": "adam", "X-Up-Id": "adam", "X-Seen-Groups": "admins",
			"X-Seen-Role": "admin", "X-Seen-Impersonator": ""}},
	}
	check := func(name string, c *http.Client, hdr, want map[string]string) {
		t.Helper()
		before := h.upstreamHits()
		resp, b := do(t, c, "GET", siteURL("case="+name), nil, hdr)
		if resp.StatusCode != 200 || h.upstreamHits() == before {
			t.Fatalf("%s: %d %s, want the upstream to answer", name, resp.StatusCode, b)
		}
		seen, _ := h.lastSeen()
		for k, v := range want {
			if got, ok := seen[k]; !ok && v != "" || ok && (len(got) != 1 || got[0] != v) {
				t.Errorf("%s: upstream saw %s %q, want %q", name, k, got, v)
			}
		}
	}
	for _, tc := range allowed {
		check(tc.name, tc.client, tc.hdr, tc.want)
	}

	// Impersonating alice: the identity is alice's, the impersonator adam.
	if got, b := secAPI(t, h, adam, "POST", "/api/v1/users/alice/impersonate", ""); got != 200 {
		t.Fatalf("impersonate: %d %s", got, b)
	}
	impersonated := map[string]string{"X-Seen-Id": "alice", "X-Up-Id": "alice", "X-Seen-Role": "user", "X-Seen-Impersonator": "adam"}
	check("impersonation", adam, jsonAPI, impersonated)

	// Refused requests: no placeholder reaches the access log.
	for _, tc := range []struct {
		name   string
		client *http.Client
		want   int
	}{
		{"anonymous", h.client(), 401},
		{"denied", bob, 403},
	} {
		if resp, b := do(t, tc.client, "GET", siteURL("case="+tc.name), nil, jsonAPI); resp.StatusCode != tc.want {
			t.Fatalf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
		}
	}

	wantUserID := map[string]string{"session": "alice", "api-key": "alice", "admin": "adam",
		"impersonation": "alice", "anonymous": "", "denied": ""}
	logged := accessLogUserIDs(t, filepath.Join(h.dir, "access.log"), len(wantUserID))
	for c, want := range wantUserID {
		if got, ok := logged[c]; !ok || got != want {
			t.Errorf("access log of case %s: user_id %q (logged: %v), want %q", c, got, ok, want)
		}
	}
}

// accessLogUserIDs reads Caddy's JSON access log at path until it holds n
// requests with a ?case= query, and returns each case's user_id.
func accessLogUserIDs(t *testing.T, path string, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		clear(out)
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var line struct {
					Request struct{ URI string } `json:"request"`
					UserID  *string              `json:"user_id"`
				}
				if json.Unmarshal(sc.Bytes(), &line) != nil || line.UserID == nil {
					continue
				}
				if c, ok := strings.CutPrefix(line.Request.URI, "/?case="); ok {
					out[c] = *line.UserID
				}
			}
			f.Close()
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
	}
}

// TestUserPlaceholdersRenamedHeaders: with the identity headers renamed
// (and a role header configured), the placeholders still hold the user,
// and a custom role's name is the role placeholder.
func TestUserPlaceholdersRenamedHeaders(t *testing.T) {
	h := newHarness(t)
	port := freePort(t)
	h.start(h.caddyfile("headers {\n\t\t\tuser X-Who\n\t\t\temail X-Mail\n\t\t\tname X-Full\n\t\t\tgroups X-Teams\n\t\t\trole X-Role\n\t\t}",
		placeholderSite(h, port)))
	h.addUser("olga", ownerPW, "owner")
	olga := h.client()
	h.apiLogin(olga, "olga", ownerPW)
	if got, b := secAPI(t, h, olga, "POST", "/api/v1/roles", `{"name":"reviewer","permissions":["audit.read"]}`); got != 201 {
		t.Fatalf("create role: %d %s", got, b)
	}
	h.addUser("carol", alicePW, "reviewer", "staff")
	carol := h.client()
	h.apiLogin(carol, "carol", alicePW)

	resp, b := do(t, carol, "GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil, jsonAPI)
	if resp.StatusCode != 200 {
		t.Fatalf("carol: %d %s", resp.StatusCode, b)
	}
	seen, _ := h.lastSeen()
	for k, want := range map[string]string{"X-Who": "carol", "X-Seen-Id": "carol", "X-Up-Id": "carol",
		"X-Seen-Email": "carol@example.com", "X-Seen-Name": "Carol", "X-Seen-Groups": "staff", "X-Seen-Role": "reviewer"} {
		if got := seen.Get(k); got != want {
			t.Errorf("upstream saw %s %q, want %q", k, got, want)
		}
	}
}

// TestUserPlaceholdersSurviveHeaderRewrites: a request_header that edits the
// identity headers in place (search and replace) after the guard changes
// what the app receives, not the placeholders: the access log's user_id
// and {http.auth.user.*} stay who signed in.
func TestUserPlaceholdersSurviveHeaderRewrites(t *testing.T) {
	h := newHarness(t)
	port := freePort(t)
	h.start(h.caddyfile("", fmt.Sprintf(`
http://127.0.0.1:%[1]d {
	log {
		output file %[2]s/access.log
		format json
	}
	gatehouse seen
	request_header Remote-User alice mallory
	request_header Remote-Groups staff rivals
	reverse_proxy %[3]s {
		header_up X-Up-Id {http.auth.user.id}
		header_up X-Up-Groups {http.auth.user.groups}
	}
}
`, port, h.dir, strings.TrimPrefix(h.upstream.URL, "http://"))))
	h.addUser("alice", alicePW, "user", "staff")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	if resp, b := do(t, alice, "GET", fmt.Sprintf("http://127.0.0.1:%d/?case=rewrite", port), nil, jsonAPI); resp.StatusCode != 200 {
		t.Fatalf("alice: %d %s", resp.StatusCode, b)
	}
	seen, _ := h.lastSeen()
	if seen.Get("Remote-User") != "mallory" || seen.Get("Remote-Groups") != "rivals" {
		t.Fatalf("the rewrites did not apply (so this test proves nothing): %v", seen)
	}
	if got, want := seen.Get("X-Up-Id")+" "+seen.Get("X-Up-Groups"), "alice staff"; got != want {
		t.Errorf("header_up saw %q, want %q", got, want)
	}
	if got := accessLogUserIDs(t, filepath.Join(h.dir, "access.log"), 1)["rewrite"]; got != "alice" {
		t.Errorf("access log user_id %q, want alice", got)
	}
}
