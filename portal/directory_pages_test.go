package portal

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/directory"
	"github.com/gatehouse-auth/gatehouse/internal/slapdtest"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// syncForm is the users page's Synchronize form with its CSRF token.
var syncForm = regexp.MustCompile(`(?s)<form method="post" action="/admin/directory/sync"[^>]*>.*?name="csrf" value="([^"]+)".*?<button type="submit"[^>]*>Synchronize</button></form>`)

// TestDirectorySyncButton presses the users page's Synchronize button as a
// browser would — the form's own CSRF token, the redirect followed — with
// a real slapd behind the external directory: the summary is on the page
// and the directory's people and groups are in the store. A user without
// users.write gets no button and a 403 on a forged post; a directory that
// is down is said so.
func TestDirectorySyncButton(t *testing.T) {
	ldap := slapdtest.Start(t, slapdtest.Options{LDIF: slapdtest.ExampleLDIF()})
	client, err := directory.New(directory.Config{URL: ldap.URL, BindDN: slapdtest.ReaderDN, BindPassword: slapdtest.ReaderPassword,
		BaseDN: ldap.Suffix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newPageEnvWith(t, nil, func(o *Options) { o.Directory = &core.DirectoryOptions{Client: client, SyncGroups: true} })
	mustUser(t, e.svc, "olga", policies.RoleOwner)
	mustUser(t, e.svc, "audrey", policies.RoleAuditor)

	b := e.browser(t)
	b.signIn("olga")
	resp, page := b.get("/admin/users")
	m := syncForm.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(page, "Not synchronized since the server started.") {
		t.Fatalf("users page: %d, Synchronize form found: %v", resp.StatusCode, m != nil)
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		if _, err := e.st.UserByUsername(who); err == nil {
			t.Fatalf("%s exists before the synchronisation", who)
		}
	}

	resp, _ = b.post("/admin/directory/sync", url.Values{"csrf": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther || location(resp) != "/admin/users" {
		t.Fatalf("Synchronize: %d %s, want 303 to /admin/users", resp.StatusCode, location(resp))
	}
	resp, page = b.get(location(resp))
	const summary = "3 people: 3 created, 0 updated, 0 disabled, 2 groups created, 0 errors"
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Synchronized with the directory: "+summary+".") {
		t.Fatalf("after the redirect: %d, no summary in the flash", resp.StatusCode)
	}
	if !strings.Contains(page, "Last synchronized") || !strings.Contains(page, ": "+summary+".</p>") {
		t.Error("the page does not show the last synchronisation")
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		u, err := e.st.UserByUsername(who)
		if err != nil || u.ExternalID == "" || u.PasswordHash != "" {
			t.Fatalf("%s after the synchronisation: %+v %v, want a directory account", who, u, err)
		}
		if !strings.Contains(page, `href="/admin/users/`+who+`"`) {
			t.Errorf("%s is not listed on the users page", who)
		}
	}
	if alice, _ := e.st.UserByUsername("alice"); !hasAll(alice.Groups, "devs", "ops-team") {
		t.Errorf("alice's groups: %v, want devs and ops-team", alice.Groups)
	}
	if _, page = b.get("/admin/users"); strings.Contains(page, "Synchronized with the directory:") {
		t.Error("the flash is shown twice")
	}

	t.Run("without users.write", func(t *testing.T) {
		a := e.browser(t)
		a.signIn("audrey")
		resp, page := a.get("/admin/users")
		if resp.StatusCode != http.StatusOK || strings.Contains(page, "/admin/directory/sync") || strings.Contains(page, ">Synchronize<") {
			t.Fatalf("auditor's users page: %d, shows the Synchronize button", resp.StatusCode)
		}
		ldap.AddPerson(t, slapdtest.People, "dora", "dora-pw", "dora@example.org", "Dora Explorer")
		tok := a.csrf("/profile")
		resp, _ = a.post("/admin/directory/sync", url.Values{"csrf": {tok}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("auditor's forged Synchronize: %d, want 403", resp.StatusCode)
		}
		if _, err := e.st.UserByUsername("dora"); err == nil {
			t.Fatal("a refused synchronisation made an account")
		}
		// Without the token, not even the owner's post runs.
		if resp, _ := b.post("/admin/directory/sync", url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("Synchronize without the token: %d, want 403", resp.StatusCode)
		}
		if _, err := e.st.UserByUsername("dora"); err == nil {
			t.Fatal("a post without the token synchronised")
		}
	})

	t.Run("directory down", func(t *testing.T) {
		ldap.Stop()
		resp, _ := b.submit("/admin/users", "/admin/directory/sync", url.Values{})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("Synchronize with the directory down: %d", resp.StatusCode)
		}
		if _, page := b.get("/admin/users"); !strings.Contains(page, "Synchronization failed: ") {
			t.Fatal("no failure message with the directory down")
		}
	})
}

// hasAll reports whether got holds every name of want.
func hasAll(got []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}
