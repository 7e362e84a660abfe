package portal

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// credentialish are path parts that make a route look like it changes a
// credential: such a route (any method but GET and HEAD) must be declared
// with a policy in the route table, or be a throttled sign-in step.
var credentialish = []string{"/me/", "/profile/", "/password", "/2fa", "/totp", "/webauthn", "/identities",
	"/keys", "/backup-code", "/reset-link", "/temp-password", "/oidc/", "/app-password", "/ldap/clients"}

// noSecret lists the state-changing routes that answer without a session
// but check no secret, so core.Need no throttle.
var noSecret = map[string]bool{
	"POST /logout":        true, // ends whatever session the cookie names
	"POST /api/v1/logout": true,
}

var pathWildcard = regexp.MustCompile(`\{[^}]*\}`)

// routePath is a request path matching pattern, with user for {user} and
// "x" for the other wildcards.
func routePath(pattern, user string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return "", pattern // any method: the catch-all
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = strings.ReplaceAll(path, "{user}", user)
	return method, pathWildcard.ReplaceAllString(path, "x")
}

// isThrottled reports whether h is a handler made by s.throttled.
func isThrottled(h http.HandlerFunc) bool {
	if h == nil {
		return false
	}
	f := runtime.FuncForPC(reflect.ValueOf(h).Pointer())
	return f != nil && strings.Contains(f.Name(), ").throttled.")
}

// routeRequest sends one request to the portal: as a JSON API call under
// /api/, else as a form post; with the cookies and the bearer key given.
func routeRequest(svc *Service, method, path, key string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var req *http.Request
	if strings.HasPrefix(path, "/api/") {
		req = httptest.NewRequest(method, "https://auth.example.com"+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, "https://auth.example.com"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	return rec
}

// TestRoutePolicies walks the route table and holds every route to the
// principles of the README's security section:
//   - a state-changing route whose path looks like a credential route is
//     declared (ownCredential, freshCredential, adminCredential,
//     notCredential) or is a throttled sign-in step;
//   - a state-changing route that answers without a session is throttled;
//   - an own-credential route refuses an API key and an impersonation
//     session with 403, and a fresh one refuses a session older than
//     core.FreshWindow that brings no proof;
//   - an admin-credential route refuses the caller's own account, API keys
//     and impersonation;
//   - a service-credential route (bind clients) refuses API keys and
//     impersonation.
func TestRoutePolicies(t *testing.T) {
	svc, _, clk := newTestService(t)
	impersonationFixture(t, svc)
	table := svc.routeMux().table
	if len(table) < 100 {
		t.Fatalf("route table has %d routes", len(table))
	}
	checkRouteAccess(t, svc, table)

	olga := login(t, svc, "olga", false)
	key := makeKey(t, svc, olga, `{"label":"script"}`).Key
	imp := signedInClient(t, svc, "olivia", false)
	if got, b := imp.call("POST", "/api/v1/users/adam/impersonate", ""); got != http.StatusOK {
		t.Fatalf("impersonate adam: %d %s", got, b)
	}

	declared := 0
	for _, rt := range table {
		method, path := routePath(rt.pattern, "adam")
		if method == "" || method == http.MethodGet || method == http.MethodHead {
			continue
		}
		name := rt.pattern
		throttled := isThrottled(rt.handler)
		if rt.policy == 0 && !throttled {
			for _, part := range credentialish {
				if strings.Contains(path, part) {
					t.Errorf("%s looks like a credential route (%s) but declares no policy: wrap it in s.ownCredential, s.freshCredential, s.adminCredential, s.serviceCredential or s.notCredential", name, part)
					break
				}
			}
		}
		if rt.policy != 0 {
			declared++
		}
		if strings.Contains(rt.pattern, "/users/{user}/") && rt.policy&policyOwnCredential != 0 {
			t.Errorf("%s acts on another user: declare it s.adminCredential", name)
		}

		// Without a session: 401 or the login page, unless throttled.
		if !throttled && !noSecret[name] {
			rec := routeRequest(svc, method, path, "", url.Values{})
			loc := rec.Header().Get("Location")
			if rec.Code != http.StatusUnauthorized && !(rec.Code == http.StatusSeeOther && strings.HasPrefix(loc, "/login")) {
				t.Errorf("%s answers %d without a session and is not wrapped in s.throttled", name, rec.Code)
			}
		}

		own, admin := rt.policy&policyOwnCredential != 0, rt.policy&policyAdminCredential != 0
		if !own && !admin && rt.policy&policyServiceCredential == 0 {
			continue
		}
		if strings.HasPrefix(path, "/api/") {
			rec := routeRequest(svc, method, path, key, nil)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "API key") {
				t.Errorf("%s with an API key: %d %s, want 403", name, rec.Code, rec.Body)
			}
		}
		rec := routeRequest(svc, method, path, "", url.Values{}, imp.session())
		if rec.Code != http.StatusForbidden || !strings.Contains(strings.ToLower(rec.Body.String()), "impersonating") {
			t.Errorf("%s while impersonating: %d, want 403 naming the impersonation", name, rec.Code)
		}
		if admin {
			_, self := routePath(rt.pattern, "olga")
			rec := routeRequest(svc, method, self, "", url.Values{}, olga)
			if rec.Code != http.StatusForbidden || !strings.Contains(strings.ToLower(rec.Body.String()), "own account") {
				t.Errorf("%s on the caller's own account: %d, want 403 pointing to the self-service route", name, rec.Code)
			}
		}
	}
	if declared < 20 {
		t.Errorf("only %d routes declare a policy", declared)
	}

	// A fresh proof: a session older than core.FreshWindow without the current
	// password is refused; with it, it passes the policy.
	clk.Advance(core.FreshWindow + time.Minute)
	c, res := svc.callerOf(func() *http.Request {
		r := httptest.NewRequest("GET", "https://auth.example.com/profile", nil)
		r.AddCookie(olga)
		return r
	}())
	if res != resolvedOK {
		t.Fatal("olga's session ended")
	}
	csrf := svc.csrfToken(c)
	fresh := 0
	for _, rt := range table {
		if rt.policy&policyFresh == 0 {
			continue
		}
		fresh++
		method, path := routePath(rt.pattern, "olga")
		rec := routeRequest(svc, method, path, "", url.Values{"csrf": {csrf}}, olga)
		if rec.Code != http.StatusForbidden || !strings.Contains(strings.ToLower(rec.Body.String()), "confirm your current password") {
			t.Errorf("%s from a stale session without a proof: %d, want 403 asking for the password", rt.pattern, rec.Code)
		}
	}
	if fresh < 8 {
		t.Errorf("only %d routes core.Need a fresh proof", fresh)
	}
}

// TestFreshProof: the proof a factor change takes — the current password
// or a code, or a recent sign-in — and a wrong one counting for the
// lockout.
func TestFreshProof(t *testing.T) {
	svc, st, clk := newTestService(t)
	impersonationFixture(t, svc)
	bob := login(t, svc, "bob", false)
	call := func(body string) (int, string) { return apiCall(t, svc, bob, "POST", "/api/v1/me/totp", body) }
	if got, b := call(""); got != http.StatusOK {
		t.Fatalf("fresh session, no proof: %d %s", got, b)
	}
	clk.Advance(core.FreshWindow)
	if got, b := call(""); got != http.StatusForbidden {
		t.Fatalf("stale session, no proof: %d %s", got, b)
	}
	// The profile's factor forms now ask for the password.
	if rec := routeRequest(svc, "GET", "/profile", "", nil, bob); rec.Code != http.StatusOK ||
		strings.Count(rec.Body.String(), `name="current_password"`) < 4 {
		t.Errorf("profile of a stale session: %d, %d password fields", rec.Code, strings.Count(rec.Body.String(), `name="current_password"`))
	}
	if got, b := call(`{"current_password":"wrong"}`); got != http.StatusForbidden || !strings.Contains(b, "not correct") {
		t.Fatalf("wrong password: %d %s", got, b)
	}
	u, _ := st.UserByUsername("bob")
	if n, _, _ := st.AddFailure(u.ID, time.Hour, clk.Now()); n < 2 {
		t.Errorf("failures after one wrong proof (and this one): %d, want at least 2", n)
	}
	if got, b := call(`{"current_password":42}`); got != http.StatusBadRequest || !strings.Contains(b, "current_password") {
		t.Errorf("a malformed password field: %d %s, want 400 naming it", got, b)
	}
	if got, b := call(`{"current_password":"` + testPW + `"}`); got != http.StatusOK {
		t.Fatalf("right password: %d %s", got, b)
	}
	// The proof fields never reach the handler's strict decoding.
	if got, b := apiCall(t, svc, bob, "POST", "/api/v1/keys", `{"label":"k","current_password":"`+testPW+`"}`); got != http.StatusCreated {
		t.Fatalf("key with the password: %d %s", got, b)
	}
}

// TestAuditCapturesImpersonatorFirst: an action that ends the
// impersonation session (a password change ends every session of the
// account) is still audited with its impersonator, captured when the
// request was authenticated.
func TestAuditCapturesImpersonatorFirst(t *testing.T) {
	svc, st, _ := newTestService(t)
	impersonationFixture(t, svc)
	imp := signedInClient(t, svc, "olivia", false)
	if got, b := imp.call("POST", "/api/v1/users/adam/impersonate", ""); got != http.StatusOK {
		t.Fatalf("impersonate adam: %d %s", got, b)
	}
	h := svc.withActorNote(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, res := svc.callerOf(r)
		if res != resolvedOK || !c.Impersonating() {
			t.Fatal("not an impersonation session")
		}
		if _, err := st.DeleteUserSessions(c.User.ID); err != nil {
			t.Fatal(err)
		}
		svc.core.Audit(svc.requestActor(r), store.Event{Actor: c.User.Username, Action: "test.after_the_action", Outcome: outcomeSuccess})
	}))
	req := httptest.NewRequest("POST", "https://auth.example.com/api/v1/anything", nil)
	req.AddCookie(imp.session())
	h.ServeHTTP(httptest.NewRecorder(), req)
	evs := auditEvents(t, st, store.AuditFilter{Action: "test.after_the_action"})
	if len(evs) != 1 || evs[0].Actor != "adam" || evs[0].Impersonator != "olivia" {
		t.Fatalf("events: %+v, want adam impersonated by olivia", evs)
	}
}

// TestOwnUserPageOffersNoAdminCredentials: on one's own admin user page the
// buttons the admin credential routes would refuse (set password, reset
// link, remove 2FA) are not shown; another user's page shows them.
func TestOwnUserPageOffersNoAdminCredentials(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "olga", policies.RoleOwner)
	mustUser(t, e.svc, "bob", policies.RoleUser)
	b := e.browser(t)
	b.signIn("olga")
	for _, tc := range []struct {
		user string
		want bool
	}{{"olga", false}, {"bob", true}} {
		_, page := b.get("/admin/users/" + tc.user)
		for _, action := range []string{"/password\"", "/reset-link\""} {
			if got := strings.Contains(page, "/admin/users/"+tc.user+action); got != tc.want {
				t.Errorf("%s's page offers %s: %v, want %v", tc.user, action, got, tc.want)
			}
		}
	}
}

// TestPasswordPageFieldErrors: the password form shows each error beside
// its field (and marks the field invalid), not only at the top.
func TestPasswordPageFieldErrors(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "alice", policies.RoleUser)
	b := e.browser(t)
	b.signIn("alice")
	for _, tc := range []struct {
		name, current, pw, pw2, field string
	}{
		{"wrong current password", "Wrong-pass-1", "N3w-passw0rd-x", "N3w-passw0rd-x", "current_password"},
		{"too short", testPW, "Ab1", "Ab1", "password"},
		{"not the same twice", testPW, "N3w-passw0rd-x", "N3w-passw0rd-y", "password2"},
	} {
		_, page := b.submit("/profile/password", "/profile/password",
			url.Values{"current_password": {tc.current}, "password": {tc.pw}, "password2": {tc.pw2}})
		if !strings.Contains(page, `id="`+tc.field+`-error"`) || !regexp.MustCompile(`id="`+tc.field+`"[^>]*aria-invalid="true"`).MatchString(page) {
			t.Errorf("%s: no error beside %s:\n%s", tc.name, tc.field, page)
		}
	}
}
