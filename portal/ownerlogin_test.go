package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestOwnerLoginLinkTarget: who a recovery link may be made for.
func TestOwnerLoginLinkTarget(t *testing.T) {
	svc, st, _ := newTestService(t)
	anna := mustUser(t, svc, "anna", policies.RoleOwner)
	mustUser(t, svc, "olivia", policies.RoleOwner)
	mustUser(t, svc, "zed", policies.RoleOwner)
	mustUser(t, svc, "alice", policies.RoleAdmin)
	if _, err := st.UpdateUser(anna.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		username string
		want     string // the owner signed in, or "" for an error
		wantErr  string
	}{
		{"", "olivia", ""}, // the first active owner by username
		{"zed", "zed", ""},
		{"ZED", "zed", ""},
		{"alice", "", "not an owner"},
		{"nobody", "", "no user"},
		{"anna", "", "disabled"},
	}
	for _, tc := range tests {
		link, err := svc.OwnerLoginLink(context.Background(), nil, tc.username)
		if tc.wantErr != "" {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err = %v, want an InputError with %q", tc.username, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.username, err)
		}
		secret, ok := strings.CutPrefix(link, "https://auth.example.com/owner-login/")
		if !ok {
			t.Fatalf("%q: link %q", tc.username, link)
		}
		_, u, err := svc.core.Credentials.OwnerLoginToken(secret)
		if err != nil || u.Username != tc.want {
			t.Errorf("%q: link signs in %v (%v), want %s", tc.username, u, err, tc.want)
		}
	}

	// No active owner at all.
	svc2, _, _ := newTestService(t)
	mustUser(t, svc2, "bob", policies.RoleUser)
	if _, err := svc2.OwnerLoginLink(context.Background(), nil, ""); err == nil || !strings.Contains(err.Error(), "no active owner") {
		t.Errorf("no owner: %v", err)
	}
}

// TestOwnerLoginFlow: the link shows a confirmation, its POST signs the
// owner in with a session that counts as two-factor, it works once, it
// expires, a newer link replaces it, and both steps are audited.
func TestOwnerLoginFlow(t *testing.T) {
	svc, st, clk := newTestService(t)
	olivia := mustUser(t, svc, "olivia", policies.RoleOwner)
	vault, _ := svc.core.Access.RegisterApp(AppConfig{Name: "vault", Require2FA: true})

	// Olivia has an authenticator app (now lost): her password alone
	// does not sign her in.
	e, err := svc.core.Auth.BeginTOTP(olivia)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.core.Auth.ConfirmTOTP(nil, olivia, code(t, e.Secret, clk.Now())); err != nil {
		t.Fatal(err)
	}
	rec := fromIP(t, svc, "192.0.2.10", "POST", "/api/v1/login", `{"username":"olivia","password":"`+testPW+`"}`)
	if !strings.Contains(rec.Body.String(), `"second_factor_required":true`) {
		t.Fatalf("password login: %s", rec.Body)
	}

	link, err := svc.OwnerLoginLink(context.Background(), nil, "olivia")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(link, "https://auth.example.com")

	rec = fromIP(t, svc, "192.0.2.10", "GET", path, "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Sign in as olivia") {
		t.Fatalf("confirm page: %d\n%s", rec.Code, rec.Body)
	}
	rec = fromIP(t, svc, "192.0.2.10", "GET", path, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("viewing the page spent the link: %d", rec.Code)
	}

	rec = fromIP(t, svc, "192.0.2.10", "POST", path, "")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("use: %d Location %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	var ck *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == DefaultCookieName {
			ck = c
		}
	}
	if ck == nil {
		t.Fatal("no session cookie")
	}
	si, res := svc.resolve(cookieHeader(ck), clk.Now())
	if res != resolvedOK || si.acct.Username != "olivia" {
		t.Fatalf("session: %v %v", res, si.acct)
	}
	sess, err := svc.store.Session(si.id)
	if err != nil {
		t.Fatal(err)
	}
	if !sess.SecondFactor || len(sess.Methods) != 1 || sess.Methods[0] != core.MethodOwnerLink || sess.Remember {
		t.Errorf("session = methods %v, second factor %v, remember %v; want [owner-login], true, false", sess.Methods, sess.SecondFactor, sess.Remember)
	}
	if v := check(svc, vault, ck); v.Outcome != Allow {
		t.Errorf("require_2fa app with the recovery session: %v, want Allow", v.Outcome)
	}
	req := httptest.NewRequest("GET", "https://auth.example.com/api/v1/me", nil)
	req.AddCookie(ck)
	me := httptest.NewRecorder()
	svc.ServeHTTP(me, req)
	if me.Code != http.StatusOK || !strings.Contains(me.Body.String(), `"username":"olivia"`) {
		t.Errorf("me: %d %s", me.Code, me.Body)
	}

	// Single use.
	for _, m := range []string{"POST", "GET"} {
		if rec := fromIP(t, svc, "192.0.2.10", m, path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("%s of a used link: %d", m, rec.Code)
		}
	}

	cases := []struct {
		name  string
		setup func(t *testing.T) string // returns the link path
	}{
		{"expired", func(t *testing.T) string {
			l, _ := svc.OwnerLoginLink(context.Background(), nil, "olivia")
			clk.Advance(OwnerLoginLifetime + time.Second)
			return strings.TrimPrefix(l, "https://auth.example.com")
		}},
		{"replaced by a newer link", func(t *testing.T) string {
			l, _ := svc.OwnerLoginLink(context.Background(), nil, "olivia")
			if _, err := svc.OwnerLoginLink(context.Background(), nil, ""); err != nil {
				t.Fatal(err)
			}
			return strings.TrimPrefix(l, "https://auth.example.com")
		}},
		{"owner demoted since", func(t *testing.T) string {
			mustUser(t, svc, "oscar", policies.RoleOwner)
			l, _ := svc.OwnerLoginLink(context.Background(), nil, "oscar")
			oscar, _ := st.UserByUsername("oscar")
			if _, err := st.UpdateUser(oscar.ID, func(u *store.User) error { u.Role = policies.RoleAdmin; return nil }); err != nil {
				t.Fatal(err)
			}
			return strings.TrimPrefix(l, "https://auth.example.com")
		}},
	}
	for _, tc := range cases {
		p := tc.setup(t)
		for _, m := range []string{"GET", "POST"} {
			rec := fromIP(t, svc, "192.0.2.11", m, p, "")
			if rec.Code != http.StatusNotFound || strings.Contains(rec.Header().Get("Set-Cookie"), DefaultCookieName+"=") {
				t.Errorf("%s: %s: %d, cookies %q", tc.name, m, rec.Code, rec.Header().Values("Set-Cookie"))
			}
		}
	}

	// Audited: made by the CLI, used by olivia, and a refused use.
	events, _, err := st.ListAudit(store.AuditFilter{Action: "owner_login."}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, ev := range events {
		seen = append(seen, ev.Action+" "+ev.Actor+" "+ev.Outcome)
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{"owner_login.create cli success", "owner_login.use olivia success", "owner_login.use oscar failure"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q:\n%s", want, all)
		}
	}
	b, _ := json.Marshal(events)
	if strings.Contains(string(b), strings.TrimPrefix(path, "/owner-login/")) {
		t.Error("the link's secret is in the audit log")
	}
}

func cookieHeader(ck *http.Cookie) http.Header {
	return http.Header{"Cookie": {ck.Name + "=" + ck.Value}}
}
