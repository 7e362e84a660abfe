package portal

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// checkRouteAccess holds every /api/v1 route of the table to its access
// declaration (routeaccess.go): it declares one (public, signed in, a
// permission), and the declaration is enforced — a caller nobody signed in
// for gets 401 from every route that is not public, and a signed-in user
// whose role lacks a route's permission gets 403 naming it. It also checks
// the body limits the table declares.
func checkRouteAccess(t *testing.T, svc *Service, table []route) {
	t.Helper()
	bob := signedInClient(t, svc, "bob", false) // role user: no permissions
	anon := newClient(t, svc)
	role, ok := policies.BuiltinRole(policies.RoleUser)
	if !ok {
		t.Fatal("no built-in user role")
	}
	seen := 0
	for _, rt := range table {
		method, path := routePath(rt.pattern, "adam")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		seen++
		perm := policies.Permission(rt.access)
		switch {
		case rt.access == "":
			t.Errorf("%s declares no access: register it with s.public, s.api(\"\", h), s.api(perm, h) or s.ownSession", rt.pattern)
			continue
		case rt.access == accessPublic:
			continue
		case rt.access == accessSignedIn, rt.access == accessOwn:
		case !perm.Known():
			t.Errorf("%s declares access %q: not public, signed in or a permission", rt.pattern, rt.access)
			continue
		}
		if got, b := anon.call(method, path, "{}"); got != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d %s, want 401", rt.pattern, got, b)
		}
		if !perm.Known() || role.Has(perm) {
			continue
		}
		want := "this needs the " + string(perm) + " permission"
		if got, b := bob.call(method, path, "{}"); got != http.StatusForbidden || !strings.Contains(b, want) {
			t.Errorf("%s as a user without %s: %d %s, want 403 %q", rt.pattern, perm, got, b, want)
		}
	}
	// Body limits: every route has one; only the imports and the logo
	// uploads declare more.
	bigger := map[string]int64{"POST /api/v1/users/import": maxImportBytes, "POST /admin/users/import": maxImportBytes,
		"PUT /api/v1/settings/logo": maxLogoUploadBytes, "POST /admin/settings/logo": maxLogoUploadBytes + 64<<10}
	for _, rt := range table {
		want := int64(maxBodyBytes)
		if n, ok := bigger[rt.pattern]; ok {
			want = n
		}
		if rt.bodyLimit != want {
			t.Errorf("%s: body limit %d, want %d", rt.pattern, rt.bodyLimit, want)
		}
	}
	if seen < 60 {
		t.Errorf("only %d /api/v1 routes in the table", seen)
	}
}

// TestRouteBodyLimits: the import route takes the bigger body it declares
// in the route table; every other route stops at maxBodyBytes (413).
func TestRouteBodyLimits(t *testing.T) {
	svc, _, _ := newTestService(t)
	impersonationFixture(t, svc)
	olga := signedInClient(t, svc, "olga", false)
	var csv strings.Builder
	csv.WriteString("username,email\n")
	for i := 0; csv.Len() < maxBodyBytes+(16<<10); i++ {
		fmt.Fprintf(&csv, "user%d,user%d@example.com\n", i, i)
	}
	tests := []struct {
		name, method, path, body string
		tooLarge                 bool
	}{
		{"import", "POST", "/api/v1/users/import?dry_run=1&format=csv", csv.String(), false},
		{"profile", "PATCH", "/api/v1/me", `{"full_name":"` + strings.Repeat("x", maxBodyBytes) + `"}`, true},
		{"create user", "POST", "/api/v1/users", `{"username":"` + strings.Repeat("x", maxBodyBytes) + `"}`, true},
	}
	for _, tt := range tests {
		got, b := olga.call(tt.method, tt.path, tt.body)
		if (got == http.StatusRequestEntityTooLarge) != tt.tooLarge {
			t.Errorf("%s with %d bytes: %d %.200s (413 wanted: %v)", tt.name, len(tt.body), got, b, tt.tooLarge)
		}
	}
}
