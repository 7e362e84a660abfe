package portal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/store"
)

// clock is a settable time source shared by the store and the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testPW = "Corr3ct-horse"

// newTestService returns a service on a real store in a temp dir with cheap
// password hashing and a settable clock.
func newTestService(t *testing.T) (*Service, *store.Store, *clock) {
	t.Helper()
	return newTestServiceHashing(t, password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}))
}

// newTestServiceHashing is newTestService with the password hasher h.
func newTestServiceHashing(t *testing.T, h *password.Hasher) (*Service, *store.Store, *clock) {
	t.Helper()
	clk := &clock{t: time.Now()}
	st, err := store.Open(t.TempDir(), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := New(Options{
		Store:     st,
		PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Idle:      time.Hour,
		Lifetime:  12 * time.Hour,
		Remember:  30 * 24 * time.Hour,
		Hasher:    h,
		Now:       clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, clk
}

func mustUser(t *testing.T, svc *Service, name, role string, groups ...string) *store.User {
	t.Helper()
	u, err := svc.core.Users.CreateUser(context.Background(), nil, NewUser{Username: name, Password: testPW, Role: role, Groups: groups, Email: name + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// login signs in through the API and returns the session cookie.
func login(t *testing.T, svc *Service, name string, remember bool) *http.Cookie {
	t.Helper()
	body := `{"username":"` + name + `","password":"` + testPW + `","remember":` + map[bool]string{true: "true", false: "false"}[remember] + `}`
	req := httptest.NewRequest("POST", "https://auth.example.com/api/v1/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == DefaultCookieName {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func check(svc *Service, app *App, ck *http.Cookie) Verdict {
	req := httptest.NewRequest("GET", "https://app.example.com/", nil)
	if ck != nil {
		req.AddCookie(ck)
	}
	return svc.Check(req, app)
}

func TestSessionTimeouts(t *testing.T) {
	svc, _, clk := newTestService(t)
	mustUser(t, svc, "alice", "user")
	app, err := svc.core.Access.RegisterApp(AppConfig{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("idle", func(t *testing.T) {
		ck := login(t, svc, "alice", false)
		// Activity inside the idle window keeps the session alive.
		for range 3 {
			clk.Advance(50 * time.Minute)
			if v := check(svc, app, ck); v.Outcome != Allow {
				t.Fatalf("active session refused: %v", v.Outcome)
			}
		}
		clk.Advance(time.Hour)
		if v := check(svc, app, ck); v.Outcome != SignIn {
			t.Fatalf("idle session: %v, want SignIn", v.Outcome)
		}
	})

	t.Run("absolute lifetime", func(t *testing.T) {
		ck := login(t, svc, "alice", false)
		for range 15 { // 15 × 50 min > 12 h, never idle
			clk.Advance(50 * time.Minute)
			check(svc, app, ck)
		}
		if v := check(svc, app, ck); v.Outcome != SignIn {
			t.Fatalf("session past its lifetime: %v, want SignIn", v.Outcome)
		}
	})

	t.Run("remember me", func(t *testing.T) {
		ck := login(t, svc, "alice", true)
		if ck.MaxAge <= 0 || ck.Expires.IsZero() {
			t.Fatalf("remember-me cookie is not persistent: %+v", ck)
		}
		clk.Advance(3 * 24 * time.Hour) // far past idle and the normal lifetime
		if v := check(svc, app, ck); v.Outcome != Allow {
			t.Fatalf("remembered session refused after 3 days: %v", v.Outcome)
		}
		clk.Advance(28 * 24 * time.Hour)
		if v := check(svc, app, ck); v.Outcome != SignIn {
			t.Fatalf("remembered session past 30 days: %v, want SignIn", v.Outcome)
		}
	})

	t.Run("plain session cookie is not persistent", func(t *testing.T) {
		ck := login(t, svc, "alice", false)
		if ck.MaxAge != 0 || !ck.Expires.IsZero() {
			t.Fatalf("non-remembered cookie persists: %+v", ck)
		}
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Fatalf("cookie flags on an https portal: %+v", ck)
		}
	})
}

func TestAccessDecisions(t *testing.T) {
	svc, st, _ := newTestService(t)
	alice := mustUser(t, svc, "alice", "user", "staff")
	mustUser(t, svc, "bob", "user", "ops")
	mustUser(t, svc, "carol", "admin")
	mustUser(t, svc, "dave", "user")
	open, _ := svc.core.Access.RegisterApp(AppConfig{Name: "open"})
	ops, _ := svc.core.Access.RegisterApp(AppConfig{Name: "ops-only", AllowGroups: []string{"ops"}})
	named, _ := svc.core.Access.RegisterApp(AppConfig{Name: "named", AllowUsers: []string{"Dave"}})

	cookies := map[string]*http.Cookie{}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		cookies[n] = login(t, svc, n, false)
	}
	tests := []struct {
		user string
		app  *App
		want Outcome
	}{
		{"alice", open, Allow},
		{"alice", ops, Deny},
		{"alice", named, Deny},
		{"bob", ops, Allow},
		{"carol", ops, Allow}, // admins reach every app
		{"carol", named, Allow},
		{"dave", named, Allow}, // allow_users is case-insensitive
		{"dave", ops, Deny},
	}
	for _, tc := range tests {
		if v := check(svc, tc.app, cookies[tc.user]); v.Outcome != tc.want {
			t.Errorf("%s → %s: %v, want %v", tc.user, tc.app.Name, v.Outcome, tc.want)
		}
	}
	if v := check(svc, open, nil); v.Outcome != SignIn {
		t.Errorf("no cookie: %v, want SignIn", v.Outcome)
	}
	if v := check(svc, open, &http.Cookie{Name: DefaultCookieName, Value: strings.Repeat("A", 43)}); v.Outcome != SignIn {
		t.Errorf("unknown token: %v, want SignIn", v.Outcome)
	}

	// A role change takes effect on the next request.
	if _, err := st.UpdateUser(alice.ID, func(u *store.User) error { u.Role = "admin"; return nil }); err != nil {
		t.Fatal(err)
	}
	if v := check(svc, ops, cookies["alice"]); v.Outcome != Allow {
		t.Errorf("alice promoted to admin: %v, want Allow", v.Outcome)
	}
	// Disabling a user ends their sessions on the next request.
	if _, err := st.UpdateUser(alice.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if v := check(svc, open, cookies["alice"]); v.Outcome != SignIn {
		t.Errorf("disabled alice: %v, want SignIn", v.Outcome)
	}
}

func TestCheckSetsAndStripsIdentityHeaders(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "alice", "user", "b-team", "a-team")
	app, _ := svc.core.Access.RegisterApp(AppConfig{Name: "whoami"})
	ck := login(t, svc, "alice", false)

	spoofed := []string{"Remote-User", "remote-email", "REMOTE-NAME", "Remote_Groups", "Remote.User", "rEmOtE_uSeR"}
	for _, signedIn := range []bool{true, false} {
		req := httptest.NewRequest("GET", "https://app.example.com/", nil)
		for _, k := range spoofed {
			req.Header[k] = []string{"mallory"}
		}
		req.Header.Set("X-Other", "kept")
		if signedIn {
			req.AddCookie(ck)
		}
		svc.Check(req, app)
		for k, v := range req.Header {
			if len(v) > 0 && v[0] == "mallory" {
				t.Errorf("signed in %v: spoofed %s survived", signedIn, k)
			}
		}
		if req.Header.Get("X-Other") != "kept" {
			t.Error("an unrelated header was removed")
		}
		if signedIn {
			want := map[string]string{"Remote-User": "alice", "Remote-Email": "alice@example.com", "Remote-Groups": "a-team,b-team"}
			for k, v := range want {
				if got := req.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if _, ok := req.Header["Remote-Name"]; ok {
				t.Error("Remote-Name set for a user without a full name")
			}
		}
	}
}

// TestIdentityHeaderSet: every spelling an upstream reads as an identity
// header is one (any case, '_' or '.' for '-'), for the default names, a
// configured one longer than the length mask and the role header removed
// even when none is sent; nothing else is.
func TestIdentityHeaderSet(t *testing.T) {
	long := "X-" + strings.Repeat("Very-Long-Name-", 5) + "User"
	def := newIdentityHeaderSet(DefaultHeaders.withDefaults())
	custom := newIdentityHeaderSet(Headers{User: long, Role: "X-Role"}.withDefaults())
	tests := []struct {
		set  identityHeaderSet
		name string
		want bool
	}{
		{def, "Remote-User", true},
		{def, "remote-user", true},
		{def, "REMOTE_USER", true},
		{def, "Remote.User", true},
		{def, "Remote-Groups", true},
		{def, "rEMOTE_iMPERSONATOR", true},
		{def, "Remote-Role", true},
		{def, "Remote-Users", false},
		{def, "Remote-Use", false},
		{def, "X-Remote-User", false},
		{def, "Remote-Emails", false},
		{def, "Authorization", false}, // as long as Remote-Groups
		{def, "", false},
		{custom, strings.ToLower(long), true},
		{custom, strings.ReplaceAll(long, "-", "_"), true},
		{custom, long + "x", false},
		{custom, "Remote-User", false},
		{custom, "x.role", true},
		{custom, "Remote-Role", false},
		{custom, "Remote-Email", true},
	}
	for _, tc := range tests {
		if got := tc.set.has(tc.name); got != tc.want {
			t.Errorf("%v has %q = %v", tc.set.folded, tc.name, got)
		}
	}
}

func TestRegisterAppConflicts(t *testing.T) {
	svc, _, _ := newTestService(t)
	if _, err := svc.core.Access.RegisterApp(AppConfig{Name: "grafana", AllowGroups: []string{"ops", "admins"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     AppConfig
		wantErr string
	}{
		{"same rules in another order", AppConfig{Name: "grafana", AllowGroups: []string{"admins", "OPS"}}, ""},
		{"different groups", AppConfig{Name: "grafana", AllowGroups: []string{"ops"}}, "different allow_groups"},
		{"portal-managed twin", AppConfig{Name: "grafana"}, "different allow_groups"},
		{"different title", AppConfig{Name: "grafana", Title: "Graphs", AllowGroups: []string{"ops", "admins"}}, "different titles"},
		{"bad name", AppConfig{Name: "Graf ana"}, "app name"},
		{"bad group", AppConfig{Name: "x1", AllowGroups: []string{"a b"}}, "allow_groups"},
		{"bad url", AppConfig{Name: "x2", URL: "ftp://x"}, "url"},
	}
	for _, tc := range tests {
		_, err := svc.core.Access.RegisterApp(tc.cfg)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestCreateUserValidation(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "alice", "user")
	tests := []struct {
		name  string
		nu    NewUser
		field string
	}{
		{"missing username", NewUser{Password: testPW}, "username"},
		{"bad username", NewUser{Username: "al ice", Password: testPW}, "username"},
		{"reserved username", NewUser{Username: "admin", Password: testPW}, "username"},
		{"bad email", NewUser{Username: "bob", Email: "not-an-email", Password: testPW}, "email"},
		{"unknown role", NewUser{Username: "bob", Role: "wizard", Password: testPW}, "role"},
		{"bad group", NewUser{Username: "bob", Groups: []string{"a b"}, Password: testPW}, "groups"},
		{"weak password", NewUser{Username: "bob", Password: "short"}, "password"},
		{"password contains username", NewUser{Username: "bobby", Password: "Bobby-Passw0rd"}, "password"},
		{"missing password", NewUser{Username: "bob"}, "password"},
	}
	for _, tc := range tests {
		_, err := svc.core.Users.CreateUser(context.Background(), nil, tc.nu)
		ie, ok := err.(*InputError)
		if !ok || ie.Field != tc.field {
			t.Errorf("%s: err = %v, want an input error on %s", tc.name, err, tc.field)
		}
	}
	_, err := svc.core.Users.CreateUser(context.Background(), nil, NewUser{Username: "ALICE", Password: testPW})
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("duplicate username: %v", err)
	}
	_, err = svc.core.Users.CreateUser(context.Background(), nil, NewUser{Username: "alice2", Email: "Alice@Example.com", Password: testPW})
	if err == nil || !strings.Contains(err.Error(), "already used by another account") {
		t.Errorf("duplicate email: %v", err)
	}
}

func TestLoginAuditTrail(t *testing.T) {
	svc, st, _ := newTestService(t)
	mustUser(t, svc, "alice", "user")
	ck := login(t, svc, "alice", false)
	body := `{"username":"alice","password":"Wrong-passw0rd"}`
	req := httptest.NewRequest("POST", "https://auth.example.com/api/v1/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	svc.ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest("POST", "https://auth.example.com/api/v1/logout", nil)
	req.AddCookie(ck)
	svc.ServeHTTP(httptest.NewRecorder(), req)

	events, _, err := st.ListAudit(store.AuditFilter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Action+"/"+e.Outcome+"/"+e.Reason)
	}
	want := []string{"logout/success/", "login/failure/wrong password", "login/success/password", "user.create/success/role user"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit trail (newest first):\n got %q\nwant %q", got, want)
	}
}

// TestSessionCookieNotForwarded: the app behind the guard never receives
// the session token; the client's other cookies pass untouched.
func TestSessionCookieNotForwarded(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "alice", "user")
	app, _ := svc.core.Access.RegisterApp(AppConfig{Name: "wiki"})
	ck := login(t, svc, "alice", false)
	tests := []struct {
		cookies []string
		want    []string
	}{
		{[]string{ck.Name + "=" + ck.Value}, nil},
		{[]string{"a=1; " + ck.Name + "=" + ck.Value + "; b=2"}, []string{"a=1; b=2"}},
		{[]string{"theme=dark", ck.Name + "=" + ck.Value}, []string{"theme=dark"}},
		{[]string{ck.Name + "=junk; " + ck.Name + "=" + ck.Value + ";x=y"}, []string{"x=y"}},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("GET", "https://app.example.com/", nil)
		req.Header["Cookie"] = tc.cookies
		if v := svc.Check(req, app); v.Outcome != Allow {
			t.Fatalf("%v: %v", tc.cookies, v.Outcome)
		}
		if got := req.Header["Cookie"]; strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("cookies %q forwarded as %q, want %q", tc.cookies, got, tc.want)
		}
	}
}
