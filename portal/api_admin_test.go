package portal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// apiCall makes one API request with the session cookie ck (nil: none).
func apiCall(t *testing.T, svc *Service, ck *http.Cookie, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "https://auth.example.com"+path, rd)
	if body != "" {
		ct := "application/json"
		if !strings.HasPrefix(body, "{") && !strings.HasPrefix(body, "[") {
			ct = "text/csv"
		}
		req.Header.Set("Content-Type", ct)
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// endpoint is one row of the permission matrix: the call, the permission it
// needs ("" for any signed-in user, "public" for anyone) and its status when
// allowed. {session} and {invitation} in the path stand for a session of
// tgt and a pending invitation.
type endpoint struct {
	method, path, body string
	perm               policies.Permission
	ok                 int
}

// matrix lists every admin endpoint in an order where each call's fixture
// still exists (deletes last).
var matrix = []endpoint{
	{"GET", "/api/v1/me", "", "", 200},
	{"PATCH", "/api/v1/me", `{"full_name":"Me Myself"}`, "", 200},
	{"GET", "/api/v1/me/sessions", "", "", 200},
	{"GET", "/api/v1/users", "", policies.PermUsersRead, 200},
	{"GET", "/api/v1/users?q=tgt&status=active", "", policies.PermUsersRead, 200},
	{"POST", "/api/v1/users", `{"username":"newbie","email":"newbie@example.com","password":"` + testPW + `"}`, policies.PermUsersWrite, 201},
	{"GET", "/api/v1/users/tgt", "", policies.PermUsersRead, 200},
	{"PATCH", "/api/v1/users/tgt", `{"full_name":"Target T"}`, policies.PermUsersWrite, 200},
	{"POST", "/api/v1/users/tgt/password", `{"password":"N3w-passphrase"}`, policies.PermUsersWrite, 204},
	{"POST", "/api/v1/users/tgt/reset-link", `{}`, policies.PermUsersWrite, 201},
	{"POST", "/api/v1/users/tgt/unlock", `{}`, policies.PermUsersWrite, 204},
	{"GET", "/api/v1/users/tgt/sessions", "", policies.PermSessionsRead, 200},
	{"DELETE", "/api/v1/users/tgt/sessions", "", policies.PermSessionsRevoke, 204},
	{"GET", "/api/v1/users/export?format=json", "", policies.PermUsersRead, 200},
	{"GET", "/api/v1/users/export?format=csv", "", policies.PermUsersRead, 200},
	{"POST", "/api/v1/users/import?dry_run=1", "username,email\nimp1,imp1@example.com\n", policies.PermUsersWrite, 200},
	{"GET", "/api/v1/groups", "", policies.PermGroupsRead, 200},
	{"POST", "/api/v1/groups", `{"name":"newgroup"}`, policies.PermGroupsWrite, 201},
	{"GET", "/api/v1/groups/staff", "", policies.PermGroupsRead, 200},
	{"PATCH", "/api/v1/groups/staff", `{"description":"The staff"}`, policies.PermGroupsWrite, 200},
	{"PUT", "/api/v1/groups/staff/members/tgt", "", policies.PermGroupsWrite, 204},
	{"DELETE", "/api/v1/groups/staff/members/tgt", "", policies.PermGroupsWrite, 204},
	{"GET", "/api/v1/apps", "", policies.PermAppsRead, 200},
	{"GET", "/api/v1/apps/wiki", "", policies.PermAppsRead, 200},
	{"PATCH", "/api/v1/apps/wiki", `{"allow_groups":["staff"]}`, policies.PermAppsWrite, 200},
	{"GET", "/api/v1/roles", "", policies.PermRolesRead, 200},
	{"GET", "/api/v1/roles/auditor", "", policies.PermRolesRead, 200},
	{"POST", "/api/v1/roles", `{"name":"helpdesk","permissions":["users.read"]}`, policies.PermUsersRoles, 201},
	{"GET", "/api/v1/sessions", "", policies.PermSessionsRead, 200},
	{"GET", "/api/v1/invitations", "", policies.PermInvitationsRead, 200},
	{"POST", "/api/v1/invitations", `{"email":"invitee@example.com","role":"user"}`, policies.PermInvitationsWrite, 201},
	{"GET", "/api/v1/audit", "", policies.PermAuditRead, 200},
	{"GET", "/api/v1/audit?action=user.&since=2000-01-01", "", policies.PermAuditRead, 200},
	{"GET", "/api/v1/settings", "", policies.PermSettingsRead, 200},
	{"PATCH", "/api/v1/settings", `{"lock_profile":false}`, policies.PermSettingsWrite, 200},
	{"PATCH", "/api/v1/roles/helpdesk", `{"description":"Front desk"}`, policies.PermUsersRoles, 200},
	{"DELETE", "/api/v1/roles/helpdesk", "", policies.PermUsersRoles, 204},
	{"POST", "/api/v1/settings/test-email", `{"to":"x@example.com"}`, policies.PermSettingsWrite, 400}, // no SMTP here
	{"DELETE", "/api/v1/invitations/{invitation}", "", policies.PermInvitationsWrite, 204},
	{"DELETE", "/api/v1/sessions/{session}", "", policies.PermSessionsRevoke, 204},
	{"POST", "/api/v1/password/forgot", `{"login":"tgt"}`, "public", 202},
	{"DELETE", "/api/v1/me/sessions", "", "", 204},
	{"POST", "/api/v1/me/password", `{"current_password":"` + testPW + `","password":"N3w-passphrase-2"}`, "", 204},
	{"DELETE", "/api/v1/groups/staff", "", policies.PermGroupsWrite, 204},
	{"DELETE", "/api/v1/users/tgt", "", policies.PermUsersWrite, 204},
}

// TestPermissionMatrix calls every admin endpoint as every built-in role
// (and anonymously) and checks the status: the permission check happens at
// the API, whatever the client.
func TestPermissionMatrix(t *testing.T) {
	roles := append([]string{""}, policies.RoleOwner, policies.RoleAdmin, policies.RoleOperator,
		policies.RoleUserManager, policies.RoleAuditor, policies.RoleUser)
	for _, role := range roles {
		name := role
		if name == "" {
			name = "anonymous"
		}
		t.Run(name, func(t *testing.T) {
			svc, st, _ := newTestService(t)
			mustUser(t, svc, "olga", policies.RoleOwner)
			mustUser(t, svc, "tgt", policies.RoleUser, "staff")
			if _, err := svc.core.Access.RegisterApp(AppConfig{Name: "wiki", Title: "Wiki"}); err != nil {
				t.Fatal(err)
			}
			var ck *http.Cookie
			perms := policies.PermissionSet(0)
			if role != "" {
				mustUser(t, svc, "actor", role)
				ck = login(t, svc, "actor", false)
				perms, _ = policies.RolePermissions(role)
			}
			inv, err := svc.core.Credentials.CreateInvitation(context.Background(), svc.localAdmin(), InvitationInput{Email: "pending@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			for _, ep := range matrix {
				want := ep.ok
				switch {
				case ep.perm == "public":
				case role == "":
					want = http.StatusUnauthorized
				case ep.perm != "" && !perms.Has(ep.perm):
					want = http.StatusForbidden
				}
				path := strings.ReplaceAll(ep.path, "{invitation}", inv.ID)
				if strings.Contains(path, "{session}") {
					// A fresh session of tgt, so every row has one to end.
					tgt, _ := svc.core.Users.FindUser("tgt")
					sess := &store.Session{ID: core.SessionIDOf("matrix-" + name), UserID: tgt.ID, ExpiresAt: time.Now().Add(time.Hour)}
					if err := st.CreateSession(sess); err != nil {
						t.Fatal(err)
					}
					path = strings.ReplaceAll(path, "{session}", sess.ID.String())
				}
				got, body := apiCall(t, svc, ck, ep.method, path, ep.body)
				if got != want {
					t.Errorf("%s %s as %s: %d, want %d (%s)", ep.method, ep.path, name, got, want, strings.TrimSpace(body))
				}
			}
		})
	}
}

// TestRoleRules checks the rules of DESIGN.md §4 that permissions alone do
// not express.
func TestRoleRules(t *testing.T) {
	svc, st, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "boss", policies.RoleAdmin)
	mustUser(t, svc, "mgr", policies.RoleUserManager)
	mustUser(t, svc, "bob", policies.RoleUser)
	root, boss, mgr := login(t, svc, "olga", false), login(t, svc, "boss", false), login(t, svc, "mgr", false)

	tests := []struct {
		name               string
		ck                 *http.Cookie
		method, path, body string
		want               int
	}{
		{"admin cannot edit an owner", boss, "PATCH", "/api/v1/users/olga", `{"full_name":"X"}`, 403},
		{"admin cannot reset an owner's password", boss, "POST", "/api/v1/users/olga/password", `{"password":"N3w-passphrase"}`, 403},
		{"admin cannot grant owner", boss, "PATCH", "/api/v1/users/bob", `{"role":"owner"}`, 403},
		{"admin cannot revoke an owner's sessions", boss, "DELETE", "/api/v1/users/olga/sessions", "", 403},
		{"last owner cannot be demoted", root, "PATCH", "/api/v1/users/olga", `{"role":"admin"}`, 403},
		{"last owner cannot be disabled", root, "PATCH", "/api/v1/users/olga", `{"active":false}`, 403},
		{"last owner cannot expire", root, "PATCH", "/api/v1/users/olga", `{"expires_at":"2030-01-01"}`, 403},
		{"user manager cannot change roles", mgr, "PATCH", "/api/v1/users/bob", `{"role":"auditor"}`, 403},
		{"user manager creates only users", mgr, "POST", "/api/v1/users", `{"username":"adm2","password":"` + testPW + `","role":"admin"}`, 403},
		{"user manager cannot edit an admin", mgr, "PATCH", "/api/v1/users/boss", `{"full_name":"X"}`, 403},
		{"user manager cannot invite an admin", mgr, "POST", "/api/v1/invitations", `{"email":"a@example.com","role":"admin"}`, 403},
		{"user manager edits users", mgr, "PATCH", "/api/v1/users/bob", `{"full_name":"Bob B"}`, 200},
		{"user manager creates a user", mgr, "POST", "/api/v1/users", `{"username":"carol","password":"` + testPW + `"}`, 201},
		{"unknown role", root, "PATCH", "/api/v1/users/bob", `{"role":"wizard"}`, 400},
		{"bad body", root, "PATCH", "/api/v1/users/bob", `{"nickname":"x"}`, 400},
		{"no such user", root, "GET", "/api/v1/users/nobody", "", 404},
		{"taken username", root, "POST", "/api/v1/users", `{"username":"bob","password":"` + testPW + `"}`, 409},
		{"owner grants owner", root, "PATCH", "/api/v1/users/boss", `{"role":"owner"}`, 200},
		{"one of two owners can step down", root, "PATCH", "/api/v1/users/olga", `{"role":"admin"}`, 200},
	}
	for _, tc := range tests {
		got, body := apiCall(t, svc, tc.ck, tc.method, tc.path, tc.body)
		if got != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, got, tc.want, strings.TrimSpace(body))
		}
	}
	// The demoted owner's next request runs with the new role: admins
	// cannot edit owners, and boss is now the owner.
	if got, _ := apiCall(t, svc, root, "PATCH", "/api/v1/users/boss", `{"full_name":"X"}`); got != 403 {
		t.Errorf("demoted owner edited the new owner: %d", got)
	}
	if u, _ := st.UserByUsername("olga"); u.Role != policies.RoleAdmin {
		t.Errorf("root role = %s", u.Role)
	}
}

func decodeBody[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// TestDisableAndDelete: disabling or deleting a user ends their sessions on
// the next request; deletion keeps their audit history.
func TestDisableAndDelete(t *testing.T) {
	svc, st, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "bob", policies.RoleUser)
	root := login(t, svc, "olga", false)
	app, _ := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"})

	bob := login(t, svc, "bob", false)
	if v := check(svc, app, bob); v.Outcome != Allow {
		t.Fatalf("bob before: %v", v.Outcome)
	}
	if got, body := apiCall(t, svc, root, "PATCH", "/api/v1/users/bob", `{"active":false}`); got != 200 {
		t.Fatalf("disable: %d %s", got, body)
	}
	if v := check(svc, app, bob); v.Outcome != SignIn {
		t.Fatalf("disabled bob: %v, want SignIn", v.Outcome)
	}
	if got, _ := apiCall(t, svc, root, "PATCH", "/api/v1/users/bob", `{"active":true}`); got != 200 {
		t.Fatal("enable failed")
	}
	bob = login(t, svc, "bob", false)
	if got, _ := apiCall(t, svc, root, "DELETE", "/api/v1/users/bob", ""); got != 204 {
		t.Fatal("delete failed")
	}
	if v := check(svc, app, bob); v.Outcome != SignIn {
		t.Fatalf("deleted bob: %v, want SignIn", v.Outcome)
	}
	evs, _, _ := st.ListAudit(store.AuditFilter{User: "bob"}, "", 100)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	joined := strings.Join(actions, " ")
	for _, want := range []string{core.ActionUserDelete, core.ActionUserDisable, core.ActionUserEnable, core.ActionLogin} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit for bob lacks %s: %s", want, joined)
		}
	}
}

// TestImportValidation: every bad row is reported by number and nothing is
// created; a good file creates every user with a link.
func TestImportValidation(t *testing.T) {
	svc, st, _ := newTestService(t)
	mustUser(t, svc, "olga", policies.RoleOwner)
	mustUser(t, svc, "taken", policies.RoleUser)
	root := login(t, svc, "olga", false)

	bad := "username,email,full_name,role,groups\n" +
		"good1,good1@example.com,Good One,user,staff\n" + // row 2
		"Bad Name,bad@example.com,,user,\n" + // row 3
		"taken,x@example.com,,user,\n" + // row 4
		"good2,not-an-email,,user,\n" + // row 5
		"good3,good3@example.com,,wizard,\n" + // row 6
		"good1,other@example.com,,user,\n" // row 7
	got, body := apiCall(t, svc, root, "POST", "/api/v1/users/import", bad)
	if got != 400 {
		t.Fatalf("bad import: %d %s", got, body)
	}
	res := decodeBody[ImportResult](t, body)
	wantRows := []int{3, 4, 5, 6, 7}
	if len(res.Problems) != len(wantRows) {
		t.Fatalf("problems = %+v, want rows %v", res.Problems, wantRows)
	}
	for i, p := range res.Problems {
		if p.Row != wantRows[i] || p.Error == "" {
			t.Errorf("problem %d = %+v, want row %d", i, p, wantRows[i])
		}
	}
	if _, err := st.UserByUsername("good1"); err == nil {
		t.Fatal("a bad import created good1")
	}

	good := `[{"username":"ann","email":"ann@example.com","groups":["staff"]},{"username":"ben","role":"auditor"}]`
	got, body = apiCall(t, svc, root, "POST", "/api/v1/users/import?dry_run=1", good)
	if got != 200 || decodeBody[ImportResult](t, body).Valid != 2 {
		t.Fatalf("dry run: %d %s", got, body)
	}
	if _, err := st.UserByUsername("ann"); err == nil {
		t.Fatal("dry run created ann")
	}
	got, body = apiCall(t, svc, root, "POST", "/api/v1/users/import", good)
	if got != 201 {
		t.Fatalf("import: %d %s", got, body)
	}
	res = decodeBody[ImportResult](t, body)
	if len(res.Created) != 2 || !strings.Contains(res.Created[0].Link, "/reset/") {
		t.Fatalf("created = %+v", res.Created)
	}
	if u, err := st.UserByUsername("ben"); err != nil || u.Role != policies.RoleAuditor {
		t.Fatalf("ben = %+v, %v", u, err)
	}
	// The export holds the imported users with the documented columns.
	got, body = apiCall(t, svc, root, "GET", "/api/v1/users/export?format=csv", "")
	if got != 200 || !strings.HasPrefix(body, "id,username,email,fallback_email,full_name,role,groups,active\n") ||
		!strings.Contains(body, ",ann,ann@example.com,,,user,staff,true") {
		t.Fatalf("export: %d\n%s", got, body)
	}
}
