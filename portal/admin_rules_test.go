package portal

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// loginStatus tries a password login and returns the status.
func loginStatus(t *testing.T, svc *Service, name, pw string) int {
	t.Helper()
	got, _ := apiCall(t, svc, nil, "POST", "/api/v1/login", `{"username":"`+name+`","password":"`+pw+`"}`)
	return got
}

func TestLockout(t *testing.T) {
	svc, st, clk := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser)
	for range DefaultLockoutThreshold {
		if got := loginStatus(t, svc, "bob", "Wrong-passw0rd"); got != 401 {
			t.Fatalf("wrong password: %d", got)
		}
	}
	// Locked: the right password gets the same answer as a wrong one.
	if got := loginStatus(t, svc, "bob", testPW); got != 401 {
		t.Fatalf("locked account signed in: %d", got)
	}
	evs, _, _ := st.ListAudit(store.AuditFilter{Action: core.ActionUserLock}, "", 10)
	if len(evs) != 1 || evs[0].Resource != "user:bob" {
		t.Fatalf("lock audit = %+v", evs)
	}
	// An admin unlocks.
	root := login(t, svc, "olga", false)
	if got, _ := apiCall(t, svc, root, "GET", "/api/v1/users/bob", ""); got != 200 {
		t.Fatal(got)
	}
	if _, body := apiCall(t, svc, root, "GET", "/api/v1/users/bob", ""); !strings.Contains(body, `"locked":true`) {
		t.Errorf("user detail does not show the lock: %s", body)
	}
	if got, _ := apiCall(t, svc, root, "POST", "/api/v1/users/bob/unlock", `{}`); got != 204 {
		t.Fatalf("unlock: %d", got)
	}
	if got := loginStatus(t, svc, "bob", testPW); got != 200 {
		t.Fatalf("after unlock: %d", got)
	}
	// A lock also ends by itself. (Let the per-IP throttle refill first:
	// every attempt here comes from the same address.)
	clk.Advance(throttleIdle)
	for range DefaultLockoutThreshold {
		loginStatus(t, svc, "bob", "Wrong-passw0rd")
	}
	if got := loginStatus(t, svc, "bob", testPW); got != 401 {
		t.Fatalf("second lock: %d", got)
	}
	clk.Advance(DefaultLockoutDuration + time.Minute)
	if got := loginStatus(t, svc, "bob", testPW); got != 200 {
		t.Fatalf("after the lock expired: %d", got)
	}
	// With the threshold at 0 (off), failures never lock.
	if got, body := apiCall(t, svc, root, "PATCH", "/api/v1/settings", `{"lockout_threshold":0}`); got != 200 {
		t.Fatalf("settings: %d %s", got, body)
	}
	for range DefaultLockoutThreshold + 2 {
		loginStatus(t, svc, "bob", "Wrong-passw0rd")
	}
	if got := loginStatus(t, svc, "bob", testPW); got != 200 {
		t.Fatalf("lockout off: %d", got)
	}
}

func TestSettingsValidation(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	root := login(t, svc, "olga", false)
	tests := []struct {
		body string
		want int
		msg  string
	}{
		{`{"session_idle":"10s"}`, 400, "session_idle"},
		{`{"session_idle":"soon"}`, 400, "not a duration"},
		{`{"lockout_threshold":-1}`, 400, "lockout_threshold"},
		{`{"password_max_age":"1h"}`, 400, "password_max_age"},
		{`{"password_rules":{"min_length":4}}`, 400, "min_length"},
		{`{"colour":"blue"}`, 400, "colour"},
		{`{"password_max_age":"90d","invite_lifetime":"48h","lock_profile":true}`, 200, `"password_max_age":"2160h0m0s"`},
	}
	for _, tc := range tests {
		got, body := apiCall(t, svc, root, "PATCH", "/api/v1/settings", tc.body)
		if got != tc.want || !strings.Contains(body, tc.msg) {
			t.Errorf("PATCH %s: %d %s, want %d mentioning %q", tc.body, got, body, tc.want, tc.msg)
		}
	}
	// Stored values win and survive a new Service on the same store.
	if st := svc.core.Settings(); !st.LockProfile || time.Duration(st.InviteLifetime) != 48*time.Hour {
		t.Errorf("settings in force: %+v", st)
	}
	svc2, err := New(Options{Store: svc.store, PortalURL: svc.portal, Hasher: svc.core.Hasher(), Now: svc.now})
	if err != nil {
		t.Fatal(err)
	}
	if !svc2.core.Settings().LockProfile {
		t.Error("stored settings lost by a new Service")
	}
	// Lock profile: users cannot change their own details.
	mustUser(t, svc, "bob", policies.RoleUser)
	bob := login(t, svc, "bob", false)
	if got, _ := apiCall(t, svc, bob, "PATCH", "/api/v1/me", `{"full_name":"Bobby"}`); got != http.StatusForbidden {
		t.Errorf("profile edit with lock_profile: %d", got)
	}
}

// TestPasswordExpiry: a password older than password_max_age blocks the
// guard and the API until it is changed.
func TestPasswordExpiry(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser)
	app, _ := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"})
	root := login(t, svc, "olga", false)
	if got, _ := apiCall(t, svc, root, "PATCH", "/api/v1/settings", `{"password_max_age":"90d"}`); got != 200 {
		t.Fatal(got)
	}
	clk.Advance(91 * 24 * time.Hour)
	bob := login(t, svc, "bob", true)
	if v := check(svc, app, bob); v.Outcome != ChangePassword {
		t.Fatalf("guard with an expired password: %v", v.Outcome)
	}
	if got, _ := apiCall(t, svc, bob, "GET", "/api/v1/me/sessions", ""); got != 403 {
		t.Errorf("API with an expired password: %d", got)
	}
	if got, body := apiCall(t, svc, bob, "POST", "/api/v1/me/password", `{"current_password":"`+testPW+`","password":"Fresh-passw0rd"}`); got != 204 {
		t.Fatalf("change: %d %s", got, body)
	}
	if v := check(svc, app, bob); v.Outcome != Allow {
		t.Fatalf("guard after the change: %v", v.Outcome)
	}
}

// TestCustomRoleAndOperators: a custom role grants exactly its permissions
// from the next request on; an app operator edits that app only.
func TestCustomRoleAndOperators(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "hd", policies.RoleUser)
	if _, err := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.core.Access.RegisterApp(AppConfig{Name: "chat"}); err != nil {
		t.Fatal(err)
	}
	root, hd := login(t, svc, "olga", false), login(t, svc, "hd", false)

	steps := []struct {
		name               string
		owner              bool // as olga, else as hd
		method, path, body string
		want               int
	}{
		{"user cannot list users", false, "GET", "/api/v1/users", "", 403},
		{"define helpdesk", true, "POST", "/api/v1/roles", `{"name":"helpdesk","permissions":["users.read","sessions.read"]}`, 201},
		{"unknown permission", true, "POST", "/api/v1/roles", `{"name":"bad","permissions":["fly"]}`, 400},
		{"built-in name", true, "POST", "/api/v1/roles", `{"name":"admin"}`, 409},
		{"give hd helpdesk", true, "PATCH", "/api/v1/users/hd", `{"role":"helpdesk"}`, 200},
		{"helpdesk lists users", false, "GET", "/api/v1/users", "", 200},
		{"helpdesk cannot write", false, "PATCH", "/api/v1/users/olga", `{"full_name":"X"}`, 403},
		{"held role cannot be deleted", true, "DELETE", "/api/v1/roles/helpdesk", "", 409},
		{"make hd operator of wiki", true, "PATCH", "/api/v1/apps/wiki", `{"operators":["hd"]}`, 200},
		{"operator edits wiki", false, "PATCH", "/api/v1/apps/wiki", `{"allow_users":["hd"]}`, 200},
		{"operator cannot edit chat", false, "PATCH", "/api/v1/apps/chat", `{"allow_users":["hd"]}`, 403},
		{"operator cannot change operators", false, "PATCH", "/api/v1/apps/wiki", `{"operators":[]}`, 403},
		{"operator unknown user", true, "PATCH", "/api/v1/apps/wiki", `{"operators":["ghost"]}`, 400},
	}
	for _, s := range steps {
		ck := hd
		if s.owner {
			ck = root
		}
		if got, body := apiCall(t, svc, ck, s.method, s.path, s.body); got != s.want {
			t.Errorf("%s: %d %s, want %d", s.name, got, body, s.want)
		}
	}
}

// TestGroupRenameReachesTheGuard: renaming a group keeps its members in the
// apps it was allowed into; deleting it takes them out.
func TestGroupRenameReachesTheGuard(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser, "staff")
	app, _ := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"})
	root, bob := login(t, svc, "olga", false), login(t, svc, "bob", false)
	api := func(method, path, body string, want int) {
		t.Helper()
		if got, b := apiCall(t, svc, root, method, path, body); got != want {
			t.Fatalf("%s %s: %d %s", method, path, got, b)
		}
	}
	api("PATCH", "/api/v1/apps/wiki", `{"allow_groups":["staff"]}`, 200)
	if v := check(svc, app, bob); v.Outcome != Allow {
		t.Fatalf("before rename: %v", v.Outcome)
	}
	api("PATCH", "/api/v1/groups/staff", `{"name":"crew"}`, 200)
	if v := check(svc, app, bob); v.Outcome != Allow {
		t.Fatalf("after rename: %v", v.Outcome)
	}
	_, body := apiCall(t, svc, root, "GET", "/api/v1/apps/wiki", "")
	if !strings.Contains(body, `"allow_groups":["crew"]`) {
		t.Errorf("app after rename: %s", body)
	}
	api("DELETE", "/api/v1/groups/crew", "", 204)
	// With no group left the portal-managed app is open to every
	// signed-in user again; a second app keeps bob out by user list.
	api("PATCH", "/api/v1/apps/wiki", `{"allow_users":["olga"]}`, 200)
	if v := check(svc, app, bob); v.Outcome != Deny {
		t.Fatalf("after delete: %v", v.Outcome)
	}
}

// TestGroupTooBigToChange: a group too large to rename or delete in one
// transaction gets a 409 that says so, not a 500, and nothing changes.
func TestGroupTooBigToChange(t *testing.T) {
	if testing.Short() {
		t.Skip("writes many users")
	}
	svc, st, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	root := login(t, svc, "olga", false)
	if code, body := apiCall(t, svc, root, "POST", "/api/v1/groups", `{"name":"big"}`); code != http.StatusCreated {
		t.Fatalf("create group: %d %s", code, body)
	}
	b, err := st.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 200)
	for i := range 12000 {
		if err := b.AddUser(&store.User{ID: fmt.Sprintf("id%05d", i), Username: fmt.Sprintf("u%05d", i),
			FullName: pad, Role: policies.RoleUser, Groups: []string{"big"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/api/v1/groups/big", `{"name":"huge"}`},
		{"DELETE", "/api/v1/groups/big", ""},
	} {
		code, body := apiCall(t, svc, root, c.method, c.path, c.body)
		if code != http.StatusConflict || !strings.Contains(body, "too many members") {
			t.Errorf("%s %s: %d %s, want 409 saying too many members", c.method, c.path, code, body)
		}
	}
	if code, body := apiCall(t, svc, root, "GET", "/api/v1/groups/big", ""); code != http.StatusOK || !strings.Contains(body, `"members":12000`) {
		t.Errorf("group after the refused changes: %d %s", code, body)
	}
}
