package core

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/store"
)

// sessionActor is u signed in to the portal.
func sessionActor(c *Core, u *store.User) *Actor {
	perms, _ := c.PermsOf(u.Role)
	return &Actor{User: u, Perms: perms, Via: ViaAPI, Credential: CredSession, IP: "192.0.2.10",
		Session: store.Session{UserID: u.ID, CreatedAt: c.now()}}
}

// bindActor is an anonymous client of a surface such as the LDAP server.
func bindActor() *Actor { return &Actor{Via: ViaLDAP, IP: "198.51.100.7"} }

// auditEvents returns every event of action, oldest first.
func auditEvents(t *testing.T, st *store.Store, action string) []*store.Event {
	t.Helper()
	evs, _, err := st.ListAudit(store.AuditFilter{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Event
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == action {
			out = append(out, evs[i])
		}
	}
	return out
}

func lastAudit(t *testing.T, st *store.Store, action string) *store.Event {
	t.Helper()
	evs := auditEvents(t, st, action)
	if len(evs) == 0 {
		t.Fatalf("no %s event", action)
	}
	return evs[len(evs)-1]
}

func mustAppPassword(t *testing.T, c *Core, u *store.User, name, app string) AppPasswordView {
	t.Helper()
	v, err := c.Credentials.CreateAppPassword(sessionActor(c, u), AppPasswordInput{Name: name, App: app})
	if err != nil {
		t.Fatalf("CreateAppPassword(%s, %q): %v", u.Username, app, err)
	}
	return v
}

// TestAppPasswordSecret: the secret's shape, its forgiving parse, and the
// refusal of everything else before any lookup.
func TestAppPasswordSecret(t *testing.T) {
	seen := map[string]bool{}
	var counts [appPWRandom][32]int
	for range 2000 {
		s := newAppPasswordSecret()
		if seen[s] {
			t.Fatalf("secret repeated: %s", s)
		}
		seen[s] = true
		if len(s) != 40 || !strings.HasPrefix(s, "gtap_") || strings.Count(s, "-") != 5 {
			t.Fatalf("shape of %q", s)
		}
		canon, ok := canonicalAppPassword(s)
		if !ok || canon != "gtap_"+strings.ReplaceAll(s[5:], "-", "") {
			t.Fatalf("canonical of %q: %q %v", s, canon, ok)
		}
		for i := range appPWRandom {
			counts[i][strings.IndexByte(appPWAlphabet, canon[5+i])]++
		}
	}
	// Every random position takes every symbol: 26 × 5 = 130 bits.
	for i := range counts {
		for sym, n := range counts[i] {
			if n == 0 {
				t.Errorf("position %d never took %q in 2000 secrets", i, appPWAlphabet[sym])
			}
		}
	}

	s := newAppPasswordSecret()
	for !strings.ContainsAny(s[5:], "01") {
		s = newAppPasswordSecret()
	}
	canon, _ := canonicalAppPassword(s)
	sym := s[len(s)-1]
	other := appPWAlphabet[(strings.IndexByte(appPWAlphabet, sym)+1)%32]
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"display form", s, true},
		{"upper case", strings.ToUpper(s), true},
		{"without dashes", strings.ReplaceAll(s, "-", ""), true},
		{"spaces for dashes", strings.ReplaceAll(s, "-", " "), true},
		{"o, i and l for 0 and 1", s[:5] + strings.NewReplacer("0", "o", "1", "l").Replace(s[5:]), true},
		{"wrong checksum", s[:len(s)-1] + string(other), false},
		{"one symbol short", s[:len(s)-1], false},
		{"one symbol more", s + "a", false},
		{"u is not a symbol", s[:6] + "u" + s[7:], false},
		{"no prefix", s[5:], false},
		{"API key prefix", "gth_" + s[5:], false},
		{"prefix only", "gtap_", false},
		{"empty", "", false},
		{"huge", s + strings.Repeat("-", 200), false},
		{"NUL inside", s[:10] + "\x00" + s[10:], false},
	} {
		got, ok := canonicalAppPassword(tc.in)
		if ok != tc.ok || ok && got != canon {
			t.Errorf("%s: %q -> %q, %v; want %v", tc.name, tc.in, got, ok, tc.ok)
		}
	}
	if !LooksLikeAppPassword("GTAP_x") || LooksLikeAppPassword("gta") || LooksLikeAppPassword("Corr3ct-horse") {
		t.Error("LooksLikeAppPassword")
	}
}

// TestCreateAppPassword: only the person from their own portal session
// makes one (principle 1); bad input names its field; the secret is shown
// once and never stored or audited.
func TestCreateAppPassword(t *testing.T) {
	c, st := newTestCore(t)
	bob := mustUser(t, c, "bob", "user")
	if _, err := c.Access.RegisterApp(AppConfig{Name: "wiki"}); err != nil {
		t.Fatal(err)
	}
	imp := sessionActor(c, bob)
	imp.Session.ImpersonatorID, imp.Impersonator, imp.Impersonated = "x", "olga", "bob"
	key := sessionActor(c, bob)
	key.Credential, key.Key = CredKey, &store.APIKey{ID: "k", UserID: bob.ID}
	viaLDAP := sessionActor(c, bob)
	viaLDAP.Credential, viaLDAP.Via = CredAppPassword, ViaLDAP
	for _, tc := range []struct {
		name  string
		a     *Actor
		in    AppPasswordInput
		field string // the InputError's field; "-" for ErrForbidden; "" for success
	}{
		{"session", sessionActor(c, bob), AppPasswordInput{Name: "Phone mail"}, ""},
		{"limited to an app", sessionActor(c, bob), AppPasswordInput{Name: " Wiki ", App: "wiki"}, ""},
		{"API key", key, AppPasswordInput{Name: "x"}, "-"},
		{"impersonating", imp, AppPasswordInput{Name: "x"}, "-"},
		{"anonymous", &Actor{}, AppPasswordInput{Name: "x"}, "-"},
		{"an app password's actor", viaLDAP, AppPasswordInput{Name: "x"}, "-"},
		{"no name", sessionActor(c, bob), AppPasswordInput{Name: "  "}, "name"},
		{"long name", sessionActor(c, bob), AppPasswordInput{Name: strings.Repeat("n", 65)}, "name"},
		{"control character", sessionActor(c, bob), AppPasswordInput{Name: "a\nb"}, "name"},
		{"unknown app", sessionActor(c, bob), AppPasswordInput{Name: "x", App: "nope"}, "app"},
	} {
		v, err := c.Credentials.CreateAppPassword(tc.a, tc.in)
		var ie *InputError
		switch {
		case tc.field == "" && (err != nil || !strings.HasPrefix(v.Password, "gtap_") || v.ID == ""):
			t.Errorf("%s: %+v, %v", tc.name, v, err)
		case tc.field == "-" && !errors.Is(err, ErrForbidden):
			t.Errorf("%s: %v, want ErrForbidden", tc.name, err)
		case tc.field != "" && tc.field != "-" && (!errors.As(err, &ie) || ie.Field != tc.field):
			t.Errorf("%s: %v, want an input error about %s", tc.name, err, tc.field)
		}
		if tc.field == "" {
			if got := lastAudit(t, st, ActionAppPasswordCreate); got.Actor != "bob" || got.Resource != "app_password:"+v.ID || got.IP != "192.0.2.10" {
				t.Errorf("%s: audit %+v", tc.name, got)
			}
		}
	}
	if got := lastAudit(t, st, ActionAppPasswordCreate); got.Reason != `"Wiki" for the app wiki` {
		t.Errorf("audit reason %q", got.Reason)
	}
	list, err := c.Credentials.ListAppPasswords(sessionActor(c, bob))
	if err != nil || len(list) != 2 || list[0].Name != "Wiki" || list[0].App != "wiki" || list[0].Password != "" || list[1].App != "" {
		t.Fatalf("ListAppPasswords = %+v, %v", list, err)
	}

	// At most MaxAppPasswords.
	for i := len(list); i < MaxAppPasswords; i++ {
		mustAppPassword(t, c, bob, "n", "")
	}
	if _, err := c.Credentials.CreateAppPassword(sessionActor(c, bob), AppPasswordInput{Name: "one more"}); !errors.Is(err, ErrConflict) {
		t.Errorf("past the limit: %v", err)
	}
}

// TestCheckAppPassword: every refusal is the same error; the audit keeps
// the real reason; app limits hold both ways.
func TestCheckAppPassword(t *testing.T) {
	c, st := newTestCore(t)
	bob := mustUser(t, c, "bob", "user")
	eve := mustUser(t, c, "eve", "user")
	for _, app := range []string{"wiki", "mail"} {
		if _, err := c.Access.RegisterApp(AppConfig{Name: app}); err != nil {
			t.Fatal(err)
		}
	}
	any := mustAppPassword(t, c, bob, "any", "").Password
	wiki := mustAppPassword(t, c, bob, "wiki only", "wiki").Password
	eves := mustAppPassword(t, c, eve, "eve's", "").Password
	typed := strings.ToUpper(strings.ReplaceAll(any, "-", " "))
	for _, tc := range []struct {
		name, login, secret, app string
		reason                   string // "" for success
	}{
		{"any app, no app", "bob", any, "", ""},
		{"any app, an app", "bob", any, "mail", ""},
		{"by e-mail address", "Bob@Example.com", any, "", ""},
		{"username in capitals, spaces around", " BOB ", any, "wiki", ""},
		{"typed by hand", "bob", typed, "", ""},
		{"limited, its app", "bob", wiki, "wiki", ""},
		{"limited, another app", "bob", wiki, "mail", "app password limited to the app wiki (app mail)"},
		{"limited, no app", "bob", wiki, "", "app password limited to the app wiki used without an app"},
		{"someone else's password", "bob", eves, "", "wrong app password"},
		{"wrong secret", "bob", newAppPasswordSecret(), "", "wrong app password"},
		{"the account password", "bob", testPW, "", "not a well-formed app password"},
		{"unknown user", "nobody", any, "", "unknown user"},
		{"unknown e-mail", "nobody@example.com", any, "", "unknown user"},
		{"empty login", "", any, "", "unknown user"},
	} {
		u, err := c.Credentials.CheckAppPassword(bindActor(), tc.login, tc.secret, tc.app)
		if tc.reason == "" {
			if err != nil || u == nil || u.ID != bob.ID {
				t.Errorf("%s: %v, %v", tc.name, u, err)
			}
			continue
		}
		if err != ErrBadCredentials || u != nil {
			t.Errorf("%s: %v, %v; want ErrBadCredentials", tc.name, u, err)
			continue
		}
		got := lastAudit(t, st, ActionAppPasswordUse)
		if got.Outcome != OutcomeFailure || got.Reason != tc.reason || got.IP != "198.51.100.7" {
			t.Errorf("%s: audit %+v, want reason %q", tc.name, got, tc.reason)
		}
	}
	// A success records its last use, and is not audited.
	list, _ := c.Credentials.ListAppPasswords(sessionActor(c, bob))
	for _, v := range list {
		if v.LastUsedAt == nil || v.LastUsedIP != "198.51.100.7" {
			t.Errorf("last use of %s: %v %q", v.Name, v.LastUsedAt, v.LastUsedIP)
		}
	}
	for _, e := range auditEvents(t, st, ActionAppPasswordUse) {
		if e.Outcome != OutcomeFailure {
			t.Errorf("success audited: %+v", e)
		}
	}

	// An expired account is refused, and works again once extended.
	if _, err := st.UpdateUser(bob.ID, func(u *store.User) error { u.ExpiresAt = time.Now().Add(-time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Credentials.CheckAppPassword(bindActor(), "bob", any, ""); err != ErrBadCredentials {
		t.Errorf("expired: %v", err)
	} else if got := lastAudit(t, st, ActionAppPasswordUse); got.Reason != "account expired" {
		t.Errorf("expired: reason %q", got.Reason)
	}
	if _, err := st.UpdateUser(bob.ID, func(u *store.User) error { u.ExpiresAt = time.Time{}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Credentials.CheckAppPassword(bindActor(), "bob", any, ""); err != nil {
		t.Errorf("extended: %v", err)
	}
}

// TestAppPasswordLockout: wrong app passwords count toward the account's
// lockout like wrong passwords, a locked account refuses a right app
// password (and its own password), a success clears nothing, and a right
// password used for the wrong app counts nothing.
func TestAppPasswordLockout(t *testing.T) {
	c, st := newTestCore(t)
	bob := mustUser(t, c, "bob", "user")
	if _, err := c.Access.RegisterApp(AppConfig{Name: "wiki"}); err != nil {
		t.Fatal(err)
	}
	right := mustAppPassword(t, c, bob, "any", "").Password
	wiki := mustAppPassword(t, c, bob, "wiki", "wiki").Password
	check := func(secret, app string) error {
		_, err := c.Credentials.CheckAppPassword(bindActor(), "bob", secret, app)
		return err
	}
	locked := func() bool {
		l, err := c.Auth.Locked(bob)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for range 10 {
		if check(wiki, "") == nil {
			t.Fatal("wiki password without an app")
		}
	}
	if locked() {
		t.Fatal("a right password for the wrong app locked the account")
	}
	for i := range DefaultLockoutThreshold - 1 {
		if check("gtap_wrong", "") == nil || locked() {
			t.Fatalf("failure %d: locked early", i+1)
		}
		if i == 1 && check(right, "") != nil { // a success between failures
			t.Fatal("right password refused before the lockout")
		}
	}
	if check(newAppPasswordSecret(), "") == nil || !locked() {
		t.Fatalf("not locked after %d failures (a success must not clear them)", DefaultLockoutThreshold)
	}
	if got := lastAudit(t, st, ActionUserLock); got.Resource != "user:bob" {
		t.Errorf("lock event %+v", got)
	}
	if err := check(right, ""); err != ErrBadCredentials {
		t.Errorf("locked account, right app password: %v", err)
	} else if got := lastAudit(t, st, ActionAppPasswordUse); got.Reason != "account locked" {
		t.Errorf("locked: reason %q", got.Reason)
	}
	if _, _, _, err := c.Auth.Authenticate(context.Background(), bindActor(), "bob", testPW); err != ErrBadCredentials {
		t.Errorf("locked by app passwords, the account password: %v", err)
	}
}

// TestAppPasswordsRevoked: revocation by the owner and by an administrator
// who may manage them, refused otherwise; disabling kills them for good;
// deleting the user too. Each is audited with the real actor.
func TestAppPasswordsRevoked(t *testing.T) {
	c, st := newTestCore(t)
	olga := mustUser(t, c, "olga", "owner")
	ada := mustUser(t, c, "ada", "admin")
	uma := mustUser(t, c, "uma", "user_manager")
	aud := mustUser(t, c, "audrey", "auditor")
	bob := mustUser(t, c, "bob", "user")
	eve := mustUser(t, c, "eve", "user")

	// Own revocation; someone else's id is not found.
	p := mustAppPassword(t, c, bob, "p", "")
	if err := c.Credentials.RevokeAppPassword(sessionActor(c, eve), p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("eve revokes bob's: %v", err)
	}
	key := sessionActor(c, bob)
	key.Credential, key.Key = CredKey, &store.APIKey{ID: "k", UserID: bob.ID}
	if err := c.Credentials.RevokeAppPassword(key, p.ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("revoked with an API key: %v", err)
	}
	if err := c.Credentials.RevokeAppPassword(sessionActor(c, bob), p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Credentials.CheckAppPassword(bindActor(), "bob", p.Password, ""); err != ErrBadCredentials {
		t.Errorf("revoked password works: %v", err)
	}
	if got := lastAudit(t, st, ActionAppPasswordRevoke); got.Actor != "bob" || got.Resource != "app_password:"+p.ID {
		t.Errorf("audit %+v", got)
	}

	// Administrators.
	bobs := mustAppPassword(t, c, bob, "b", "")
	adas := mustAppPassword(t, c, ada, "a", "")
	imp := sessionActor(c, olga)
	imp.Session.ImpersonatorID = "x"
	for _, tc := range []struct {
		name      string
		a         *Actor
		user, id  string
		forbidden bool
	}{
		{"auditor", sessionActor(c, aud), "bob", bobs.ID, true},
		{"user manager on an admin", sessionActor(c, uma), "ada", adas.ID, true},
		{"admin on herself", sessionActor(c, ada), "ada", adas.ID, true},
		{"owner while impersonating", imp, "bob", bobs.ID, true},
		{"the id of another user", sessionActor(c, uma), "eve", bobs.ID, false},
		{"user manager on a user", sessionActor(c, uma), "bob", bobs.ID, false},
		{"owner on an admin", sessionActor(c, olga), "ada", adas.ID, false},
	} {
		err := c.Credentials.RevokeUserAppPassword(tc.a, tc.user, tc.id)
		switch {
		case tc.forbidden && !errors.Is(err, ErrForbidden):
			t.Errorf("%s: %v, want ErrForbidden", tc.name, err)
		case tc.name == "the id of another user" && !errors.Is(err, ErrNotFound):
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		case !tc.forbidden && tc.name != "the id of another user" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if got := lastAudit(t, st, ActionAppPasswordRevoke); got.Actor != "olga" || got.Reason != `owner ada, "a" for every app` {
		t.Errorf("admin revoke audit %+v", got)
	}
	if _, err := c.Credentials.ListUserAppPasswords(sessionActor(c, eve), "bob"); !errors.Is(err, ErrForbidden) {
		t.Errorf("a user lists bob's: %v", err)
	}
	if list, err := c.Credentials.ListUserAppPasswords(sessionActor(c, aud), "bob"); err != nil || len(list) != 0 {
		t.Errorf("auditor lists bob's: %+v, %v", list, err)
	}

	// Disabling kills them, for good.
	d := mustAppPassword(t, c, bob, "d", "")
	active := false
	if _, err := c.Users.UpdateUser(sessionActor(c, uma), "bob", UserPatch{Active: &active}); err != nil {
		t.Fatal(err)
	}
	if got := lastAudit(t, st, ActionAppPasswordRevoke); got.Actor != "uma" || got.Reason != "all 1 app passwords of a disabled user" {
		t.Errorf("disable audit %+v", got)
	}
	active = true
	if _, err := c.Users.UpdateUser(sessionActor(c, uma), "bob", UserPatch{Active: &active}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Credentials.CheckAppPassword(bindActor(), "bob", d.Password, ""); err != ErrBadCredentials {
		t.Errorf("enabled again, the old password: %v", err)
	}
	if got := lastAudit(t, st, ActionAppPasswordUse); got.Reason != "wrong app password" {
		t.Errorf("after disabling: %q", got.Reason)
	}

	// Revoking all of one's own (the password form's checkbox).
	mustAppPassword(t, c, bob, "1", "")
	mustAppPassword(t, c, bob, "2", "")
	if n, err := c.Credentials.RevokeOwnAppPasswords(sessionActor(c, bob), "password change"); err != nil || n != 2 {
		t.Errorf("RevokeOwnAppPasswords = %d, %v", n, err)
	}
	// Deleting the user.
	e := mustAppPassword(t, c, eve, "e", "")
	if err := c.Users.DeleteUser(sessionActor(c, olga), "eve"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppPassword(e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted user's password: %v", err)
	}
}

// TestAppPasswordSecretNeverLogged: the secret is in neither the
// operational log nor the audit log, whatever happens to it.
func TestAppPasswordSecretNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := New(Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher: password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	bob := mustUser(t, c, "bob", "user")
	if _, err := c.Access.RegisterApp(AppConfig{Name: "wiki"}); err != nil {
		t.Fatal(err)
	}
	v := mustAppPassword(t, c, bob, "wiki", "wiki")
	_, _ = c.Credentials.CheckAppPassword(bindActor(), "bob", v.Password, "wiki")
	_, _ = c.Credentials.CheckAppPassword(bindActor(), "bob", v.Password, "mail")
	_, _ = c.Credentials.CheckAppPassword(bindActor(), "nobody", v.Password, "")
	_, _ = c.Credentials.CheckAppPassword(bindActor(), v.Password, v.Password, "")
	for range DefaultLockoutThreshold {
		_, _ = c.Credentials.CheckAppPassword(bindActor(), "bob", v.Password[:len(v.Password)-1], "wiki")
	}
	_ = c.Credentials.RevokeAppPassword(sessionActor(c, bob), v.ID)
	evs, _, err := st.ListAudit(store.AuditFilter{}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	all.WriteString(logs.String())
	for _, e := range evs {
		all.WriteString(e.Actor + e.Resource + e.Reason + "\n")
	}
	canon, _ := canonicalAppPassword(v.Password)
	body := canon[len(AppPasswordPrefix):]
	for _, part := range []string{body[:10], body[10:20], body[20:], v.Password[5:15]} {
		if strings.Contains(strings.ToLower(all.String()), part) {
			t.Errorf("a piece of the secret (%s) is logged:\n%s", part, all.String())
		}
	}
	if !strings.Contains(all.String(), "app_password.use") {
		t.Fatal("nothing was logged: the test proves nothing")
	}
}

// FuzzCanonicalAppPassword: parsing never panics, accepts only the
// prefix, 30 symbols and a right checksum, and what it accepts is a fixed
// point.
func FuzzCanonicalAppPassword(f *testing.F) {
	f.Add(newAppPasswordSecret())
	f.Add("GTAP_" + strings.Repeat("o", 30))
	f.Add("gtap_-----")
	f.Add("gth_abc")
	f.Fuzz(func(t *testing.T, s string) {
		canon, ok := canonicalAppPassword(s)
		if !ok {
			return
		}
		if len(canon) != len(AppPasswordPrefix)+appPWSymbols || !strings.HasPrefix(canon, AppPasswordPrefix) {
			t.Fatalf("%q -> %q", s, canon)
		}
		if again, ok := canonicalAppPassword(canon); !ok || again != canon {
			t.Fatalf("%q -> %q -> %q, %v", s, canon, again, ok)
		}
	})
}

// BenchmarkCheckAppPassword is the cost of a right app password: what an
// LDAP bind or an HTTP Basic request with one pays.
func BenchmarkCheckAppPassword(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	c, err := New(Options{Store: st, PortalURL: &url.URL{Scheme: "https", Host: "auth.example.com"},
		Hasher: password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})})
	if err != nil {
		b.Fatal(err)
	}
	u, err := c.Users.CreateUser(context.Background(), nil, NewUser{Username: "bob", Password: testPW, Role: "user"})
	if err != nil {
		b.Fatal(err)
	}
	var secret string
	for i := range 5 { // a user with a few app passwords
		v, err := c.Credentials.CreateAppPassword(sessionActor(c, u), AppPasswordInput{Name: "p" + string(rune('a'+i))})
		if err != nil {
			b.Fatal(err)
		}
		secret = v.Password
	}
	a := bindActor()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Credentials.CheckAppPassword(a, "bob", secret, ""); err != nil {
			b.Fatal(err)
		}
	}
}
