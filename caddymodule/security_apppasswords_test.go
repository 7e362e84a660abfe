package caddymodule

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/core"
)

// runningCore is the identity core of the Caddy the harness runs, for the
// calls no surface makes yet (CheckAppPassword, which the LDAP server and
// HTTP Basic will make).
func runningCore(t *testing.T) *core.Core {
	t.Helper()
	app, err := caddy.ActiveContext().App("gatehouse")
	if err != nil {
		t.Fatalf("the running gatehouse app: %v", err)
	}
	return app.(*App).Service().Core()
}

// TestAppPasswordsThroughCaddy: app passwords made, listed and revoked
// through a real Caddy's API; refused with an API key and while
// impersonating; limited to their app; dead once revoked by their owner or
// an administrator or once the user is disabled; counted toward the
// lockout; and never written in clear to the log, the audit log or the
// database.
func TestAppPasswordsThroughCaddy(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("uma", ownerPW, "user_manager")
	h.addUser("alice", alicePW, "user", "staff")
	h.addUser("bob", bobPW, "user")
	alice := h.client()
	h.apiLogin(alice, "alice", alicePW)
	api := func(c *http.Client, method, path, body string, hdr map[string]string) (int, string) {
		t.Helper()
		resp, b := do(t, c, method, h.portalURL(path), strings.NewReader(body), hdr)
		return resp.StatusCode, string(b)
	}
	create := func(c *http.Client, body string) (id, secret string) {
		t.Helper()
		got, b := api(c, "POST", "/api/v1/me/app-passwords", body, jsonAPI)
		var v struct{ ID, Name, App, Password string }
		if got != http.StatusCreated || json.Unmarshal([]byte(b), &v) != nil || !strings.HasPrefix(v.Password, "gtap_") {
			t.Fatalf("create %s: %d %s", body, got, b)
		}
		return v.ID, v.Password
	}
	c := runningCore(t)
	check := func(login, secret, app string) error {
		_, err := c.Credentials.CheckAppPassword(&core.Actor{Via: core.ViaLDAP, IP: "203.0.113.9"}, login, secret, app)
		return err
	}

	jellyID, jelly := create(alice, `{"name":"Jellyfin TV","app":"whoami"}`)
	mailID, mail := create(alice, `{"name":"Phone mail"}`)
	if got, b := api(alice, "POST", "/api/v1/me/app-passwords", `{"name":"x","app":"nope"}`, jsonAPI); got != 400 || !strings.Contains(b, `"field":"app"`) {
		t.Errorf("unknown app: %d %s", got, b)
	}

	// Limited to its app: never another, never "no app".
	for _, tc := range []struct {
		secret, app string
		ok          bool
	}{
		{jelly, "whoami", true},
		{jelly, "admins-only", false},
		{jelly, "", false},
		{mail, "", true},
		{mail, "admins-only", true},
	} {
		if err := check("alice", tc.secret, tc.app); (err == nil) != tc.ok {
			t.Errorf("app %q: %v, want ok=%v", tc.app, err, tc.ok)
		}
	}
	got, b := api(alice, "GET", "/api/v1/me/app-passwords", "", jsonAPI)
	if got != 200 || strings.Count(b, `"last_used_ip":"203.0.113.9"`) != 2 || strings.Contains(b, jelly) {
		t.Errorf("list with last use: %d %s", got, b)
	}

	// Not with an API key; not while impersonating.
	got, b = api(alice, "POST", "/api/v1/keys", `{"label":"script"}`, jsonAPI)
	var key struct{ Key string }
	if got != 201 || json.Unmarshal([]byte(b), &key) != nil {
		t.Fatalf("create key: %d %s", got, b)
	}
	bearer := map[string]string{"Authorization": "Bearer " + key.Key, "Content-Type": "application/json", "Accept": "application/json"}
	if got, b := api(&http.Client{Transport: noKeepAlive}, "POST", "/api/v1/me/app-passwords", `{"name":"k"}`, bearer); got != 403 || !strings.Contains(b, "API key") {
		t.Errorf("create with an API key: %d %s", got, b)
	}
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	imp := h.client()
	h.apiLogin(imp, "olga", ownerPW)
	if got, b := api(imp, "POST", "/api/v1/users/alice/impersonate", "", jsonAPI); got != 200 {
		t.Fatalf("impersonate: %d %s", got, b)
	}
	if got, b := api(imp, "POST", "/api/v1/me/app-passwords", `{"name":"backdoor"}`, jsonAPI); got != 403 || !strings.Contains(b, "impersonating") {
		t.Errorf("create while impersonating: %d %s", got, b)
	}

	// Revoked by its owner, then by an administrator: dead at once.
	if got, _ := api(alice, "DELETE", "/api/v1/me/app-passwords/"+jellyID, "", jsonAPI); got != 204 {
		t.Fatalf("revoke: %d", got)
	}
	if err := check("alice", jelly, "whoami"); err == nil {
		t.Error("revoked password works")
	}
	uma := h.client()
	h.apiLogin(uma, "uma", ownerPW)
	if got, b := api(uma, "GET", "/api/v1/users/alice/app-passwords", "", jsonAPI); got != 200 || !strings.Contains(b, "Phone mail") {
		t.Errorf("admin list: %d %s", got, b)
	}
	if got, b := api(uma, "DELETE", "/api/v1/users/alice/app-passwords/"+mailID, "", jsonAPI); got != 204 {
		t.Fatalf("admin revoke: %d %s", got, b)
	}
	if err := check("alice", mail, ""); err == nil {
		t.Error("password revoked by an administrator works")
	}

	// Disabling the user kills them; enabling does not revive them, even
	// one nobody tried meanwhile.
	_, kept := create(alice, `{"name":"Nextcloud"}`)
	_, untried := create(alice, `{"name":"Gitea"}`)
	for _, secret := range []string{kept, untried} {
		if err := check("alice", secret, ""); err != nil {
			t.Fatal(err)
		}
	}
	active := func(on string) {
		t.Helper()
		if got, b := api(owner, "PATCH", "/api/v1/users/alice", `{"active":`+on+`}`, jsonAPI); got != 200 {
			t.Fatalf("active %s: %d %s", on, got, b)
		}
	}
	active("false")
	active("true")
	for _, secret := range []string{kept, untried} {
		if err := check("alice", secret, ""); !errors.Is(err, core.ErrBadCredentials) {
			t.Errorf("disabled and enabled again: %v", err)
		}
	}
	alice = h.client() // disabling ended her sessions
	h.apiLogin(alice, "alice", alicePW)
	_, later := create(alice, `{"name":"Later"}`)
	active("false")
	if err := check("alice", later, ""); !errors.Is(err, core.ErrBadCredentials) {
		t.Errorf("disabled: %v", err)
	}

	// The lockout: wrong app passwords lock the account, for its own
	// password too.
	bob := h.client()
	h.apiLogin(bob, "bob", bobPW)
	_, bobs := create(bob, `{"name":"sync"}`)
	for range core.DefaultLockoutThreshold {
		if err := check("bob", changeLast(bobs), ""); !errors.Is(err, core.ErrBadCredentials) {
			t.Fatalf("wrong app password: %v", err)
		}
	}
	if err := check("bob", bobs, ""); !errors.Is(err, core.ErrBadCredentials) {
		t.Errorf("locked account, right app password: %v", err)
	}
	resp, _ := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"bob","password":"`+bobPW+`"}`), jsonAPI)
	if resp.StatusCode != 401 {
		t.Errorf("locked account, own password: %d", resp.StatusCode)
	}
	got, b = api(owner, "GET", "/api/v1/audit?limit=200", "", jsonAPI)
	if got != 200 || !strings.Contains(b, `"action":"user.lock"`) || !strings.Contains(b, `"reason":"account locked"`) ||
		!strings.Contains(b, `"action":"app_password.create"`) || !strings.Contains(b, `"action":"app_password.revoke"`) {
		t.Errorf("audit: %d %s", got, b)
	}

	// No secret in clear anywhere on disk: Caddy's log (with the audit
	// lines), the audit API, the database. The names are there, so the
	// search can see plain text.
	if err := c.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	var disk strings.Builder
	disk.WriteString(b)
	_ = filepath.WalkDir(h.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(path)
			disk.Write(data)
		}
		return nil
	})
	all := strings.ToLower(disk.String())
	if !strings.Contains(all, "jellyfin tv") {
		t.Fatal("the names of the app passwords are not found either: the search proves nothing")
	}
	for _, secret := range []string{jelly, mail, kept, untried, later, bobs} {
		canon := strings.ReplaceAll(secret, "-", "")
		for _, part := range []string{secret[5:17], canon[5:17], canon[len(canon)-12:]} {
			if strings.Contains(all, part) {
				t.Errorf("a piece of an app password (%s) is written in clear", part)
			}
		}
	}
}

// changeLast returns s with its last character replaced by another one:
// a wrong secret that differs from the right one in every run (replacing
// it by a fixed character gave the right secret back when that was its
// last character already).
func changeLast(s string) string {
	last := s[len(s)-1]
	if last == 'x' {
		return s[:len(s)-1] + "y"
	}
	return s[:len(s)-1] + "x"
}
