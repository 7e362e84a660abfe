package caddymodule

// Principle 3 of DESIGN.md §6 (issue 14): nobody grants what they could not
// do themselves, directly or indirectly — custom roles, groups, and the
// credentials an admin made.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// grantsLogin signs a fresh client in as user.
func grantsLogin(h *harness, user, pw string) *http.Client {
	c := h.client()
	h.apiLogin(c, user, pw)
	return c
}

// grantsJSON decodes b into v or fails.
func grantsJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// grantsAPIOK sends an API call that must answer want.
func grantsAPIOK(t *testing.T, h *harness, c *http.Client, want int, method, path, body string) []byte {
	t.Helper()
	got, b := secAPI(t, h, c, method, path, body)
	if got != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, want)
	}
	return b
}

// grantsReachesAdmins reports whether c gets through to the admins-only app
// (allow_groups admins).
func grantsReachesAdmins(t *testing.T, h *harness, c *http.Client) bool {
	t.Helper()
	before := h.upstreamHits()
	resp, _ := do(t, c, "GET", h.adminsURL("/"), nil, jsonAPI)
	return resp.StatusCode == http.StatusOK && h.upstreamHits() > before
}

// TestSecurityGrantsCustomRoles: a users.roles holder cannot rewrite or
// delete a custom role held by someone they may not manage (and so demote
// them and take over their account), nor grant a permission they lack.
func TestSecurityGrantsCustomRoles(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	for _, r := range []string{
		`{"name":"roleadmin","permissions":["users.read","users.write","users.roles","roles.read"]}`,
		`{"name":"strong","permissions":["users.read","users.write","audit.read"]}`,
		`{"name":"spare","permissions":["audit.read"]}`,
		`{"name":"weak","permissions":["users.read"]}`,
	} {
		grantsAPIOK(t, h, olga, 201, "POST", "/api/v1/roles", r)
	}
	h.addUser("mallory", bobPW, "roleadmin")
	h.addUser("bob", bobPW, "strong")
	h.addUser("carl", bobPW, "weak")
	mallory := grantsLogin(h, "mallory", bobPW)

	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		msg                      string
	}{
		{"rewrite a stronger role held by bob down to nothing", "PATCH", "/api/v1/roles/strong", `{"permissions":[]}`,
			403, "role strong is held by bob, whom you may not manage"},
		{"only its description", "PATCH", "/api/v1/roles/strong", `{"description":"harmless"}`,
			403, "role strong is held by bob, whom you may not manage"},
		{"delete it", "DELETE", "/api/v1/roles/strong", "", 403, "role strong is held by bob, whom you may not manage"},
		{"rewrite a stronger role nobody holds", "PATCH", "/api/v1/roles/spare", `{"permissions":[]}`,
			403, "the spare role holds permissions you do not have"},
		{"grant a permission one lacks", "PATCH", "/api/v1/roles/weak", `{"permissions":["users.read","audit.read"]}`,
			403, "you cannot grant audit.read"},
		{"create a role with a permission one lacks", "POST", "/api/v1/roles", `{"name":"mine","permissions":["settings.write"]}`,
			403, "you cannot grant settings.write"},
		{"a weaker role held by someone one manages", "PATCH", "/api/v1/roles/weak", `{"permissions":["users.read","roles.read"]}`, 200, ""},
	} {
		got, b := secAPI(t, h, mallory, tc.method, tc.path, tc.body)
		if got != tc.want || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, got, b, tc.want, tc.msg)
		}
	}
	var strong struct {
		Description string   `json:"description"`
		Permissions []string `json:"permissions"`
	}
	grantsJSON(t, grantsAPIOK(t, h, olga, 200, "GET", "/api/v1/roles/strong", ""), &strong)
	if len(strong.Permissions) != 3 || strong.Description != "" {
		t.Errorf("role strong after the refusals: %+v", strong)
	}
	// So bob's account stays out of mallory's reach.
	if got, b := secAPI(t, h, mallory, "POST", "/api/v1/users/bob/reset-link", `{}`); got != 403 {
		t.Errorf("mallory makes a reset link for bob: %d %s", got, b)
	}
	// The page refuses as the API does.
	_, page := do(t, mallory, "GET", h.portalURL("/admin/roles/strong"), nil, browser)
	m := csrfInPage.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no csrf token on the role page")
	}
	body, hdr := formBody("csrf", m[1], "description", "")
	resp, b := do(t, mallory, "POST", h.portalURL("/admin/roles/strong"), body, hdr)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "whom you may not manage") {
		t.Errorf("role page edit: %d %s", resp.StatusCode, secPageError(b))
	}
	// An owner may.
	grantsAPIOK(t, h, olga, 200, "PATCH", "/api/v1/roles/strong", `{"permissions":["users.read"]}`)
}

// TestSecurityGrantsSelfJoinGroup: a user_manager cannot add itself to a
// group that opens an app it cannot use (directly, by PATCHing its own
// groups, on the admin pages, or by renaming a group it is in), while
// adding someone else, or joining a group that opens nothing new, works;
// owners and admins reach every app and may join anything.
func TestSecurityGrantsSelfJoinGroup(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)
	h.addUser("uma", bobPW, "user_manager")
	h.addUser("adam", bobPW, "admin")
	uma, adam := grantsLogin(h, "uma", bobPW), grantsLogin(h, "adam", bobPW)
	grantsAPIOK(t, h, olga, 201, "POST", "/api/v1/groups", `{"name":"staff"}`)
	grantsAPIOK(t, h, olga, 204, "PUT", "/api/v1/groups/staff/members/uma", "")
	if grantsReachesAdmins(t, h, uma) {
		t.Fatal("uma reaches the admins-only app before anything")
	}

	const refusal = `opens the app \"admins-only\", which you cannot use now`
	refused := []struct {
		name, method, path, body string
	}{
		{"rename a group one is in to admins", "PATCH", "/api/v1/groups/staff", `{"name":"Admins"}`},
		{"own groups by PATCH, making the group", "PATCH", "/api/v1/users/uma", `{"groups":["staff","admins"]}`},
	}
	for _, tc := range refused {
		if got, b := secAPI(t, h, uma, tc.method, tc.path, tc.body); got != 403 || !strings.Contains(string(b), "admins-only") {
			t.Errorf("%s: %d %s, want 403", tc.name, got, b)
		}
	}
	// A user_manager may create the group, but not join it.
	grantsAPIOK(t, h, uma, 201, "POST", "/api/v1/groups", `{"name":"admins"}`)
	if got, b := secAPI(t, h, uma, "PUT", "/api/v1/groups/admins/members/uma", ""); got != 403 || !strings.Contains(string(b), refusal) {
		t.Errorf("PUT self into admins: %d %s", got, b)
	}
	if got, b := secAPI(t, h, uma, "PUT", "/api/v1/groups/admins/members/UMA", ""); got != 403 {
		t.Errorf("PUT self (other case) into admins: %d %s", got, b)
	}
	for _, form := range []struct{ path, field, value string }{
		{"/admin/groups/admins/members", "username", "uma"},
		{"/admin/users/uma/groups", "groups", "staff, admins"},
	} {
		_, page := do(t, uma, "GET", h.portalURL("/admin/groups/admins"), nil, browser)
		m := csrfInPage.FindStringSubmatch(string(page))
		if m == nil {
			t.Fatal("no csrf token on the group page")
		}
		body, hdr := formBody("csrf", m[1], form.field, form.value)
		resp, b := do(t, uma, "POST", h.portalURL(form.path), body, hdr)
		if resp.StatusCode != 403 || !strings.Contains(string(b), "admins-only") {
			t.Errorf("page %s: %d %s", form.path, resp.StatusCode, secPageError(b))
		}
	}
	var u struct {
		Groups []string `json:"groups"`
	}
	grantsJSON(t, grantsAPIOK(t, h, olga, 200, "GET", "/api/v1/users/uma", ""), &u)
	if strings.Join(u.Groups, ",") != "staff" {
		t.Fatalf("uma's groups after the refusals: %q", u.Groups)
	}
	if resp, b := do(t, uma, "GET", h.adminsURL("/"), nil, jsonAPI); resp.StatusCode != 403 {
		t.Fatalf("uma on admins-only after the refusals: %d %s, want 403", resp.StatusCode, b)
	}

	// What stays allowed.
	grantsAPIOK(t, h, uma, 201, "POST", "/api/v1/groups", `{"name":"readers"}`)
	grantsAPIOK(t, h, uma, 204, "PUT", "/api/v1/groups/readers/members/uma", "")       // opens nothing new
	grantsAPIOK(t, h, uma, 200, "PATCH", "/api/v1/groups/readers", `{"name":"books"}`) // ditto
	grantsAPIOK(t, h, uma, 204, "PUT", "/api/v1/groups/admins/members/alice", "")      // someone else
	if !grantsReachesAdmins(t, h, alice) {
		t.Error("alice, added by uma, does not reach admins-only")
	}
	grantsAPIOK(t, h, adam, 204, "PUT", "/api/v1/groups/admins/members/adam", "")
	grantsAPIOK(t, h, olga, 200, "PATCH", "/api/v1/users/olga", `{"groups":["admins"]}`)
	grantsAPIOK(t, h, olga, 200, "PATCH", "/api/v1/groups/staff", `{"name":"admins2"}`) // not in it; uma is
}

// grantsCreds are the credentials one admin made: a reset link and a
// temporary password for target, and an invitation for the admin role.
type grantsCreds struct {
	target, reset, temp, invite string
}

func grantsMakeCreds(t *testing.T, h *harness, admin *http.Client, target, email string) grantsCreds {
	t.Helper()
	cr := grantsCreds{target: target}
	var link struct {
		Link     string `json:"link"`
		Password string `json:"password"`
	}
	grantsJSON(t, grantsAPIOK(t, h, admin, 201, "POST", "/api/v1/users/"+target+"/reset-link", `{}`), &link)
	cr.reset = link.Link
	grantsJSON(t, grantsAPIOK(t, h, admin, 201, "POST", "/api/v1/users/"+target+"/temp-password", `{}`), &link)
	cr.temp = link.Password
	grantsJSON(t, grantsAPIOK(t, h, admin, 201, "POST", "/api/v1/invitations", `{"email":"`+email+`","role":"admin"}`), &link)
	cr.invite = link.Link
	if cr.reset == "" || cr.temp == "" || cr.invite == "" {
		t.Fatalf("credentials for %s: %+v", target, cr)
	}
	return cr
}

// grantsCredsWork reports, for each of cr's credentials, whether it is
// still accepted: the temporary password signs in, the reset link sets a
// password, the invitation page opens (without being used).
func grantsCredsWork(t *testing.T, h *harness, cr grantsCreds) (temp, reset, invite bool) {
	t.Helper()
	resp, _ := do(t, h.client(), "POST", h.portalURL("/api/v1/login"),
		strings.NewReader(`{"username":"`+cr.target+`","password":"`+cr.temp+`"}`), jsonAPI)
	temp = resp.StatusCode == 200
	path := strings.TrimPrefix(cr.reset, h.portalURL(""))
	body, hdr := formBody("password", "Fresh-Passw0rd-9", "password2", "Fresh-Passw0rd-9")
	resp, _ = do(t, h.client(), "POST", h.portalURL(path), body, hdr)
	reset = resp.StatusCode == 200
	resp, _ = do(t, h.client(), "GET", cr.invite, nil, browser)
	invite = resp.StatusCode == 200
	return temp, reset, invite
}

// TestSecurityGrantsCredentialsDieWithCreator: temporary passwords, reset
// links and admin-role invitations stop working when the admin who made
// them is demoted, disabled or deleted, or their custom role loses the
// permission; those of an admin who keeps the right go on working.
func TestSecurityGrantsCredentialsDieWithCreator(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	grantsAPIOK(t, h, olga, 201, "POST", "/api/v1/roles",
		`{"name":"helpdesk","permissions":["users.read","users.write","invitations.write"]}`)
	cases := []struct {
		name, creator, role string
		lose                func(t *testing.T)
		invite              bool // the invitation is for a role the creator could give
	}{
		{"kept", "adam0", "admin", func(*testing.T) {}, true},
		{"demoted to user", "adam1", "admin", func(t *testing.T) {
			grantsAPIOK(t, h, olga, 200, "PATCH", "/api/v1/users/adam1", `{"role":"user"}`)
		}, true},
		{"disabled", "adam2", "admin", func(t *testing.T) {
			grantsAPIOK(t, h, olga, 200, "PATCH", "/api/v1/users/adam2", `{"active":false}`)
		}, true},
		{"deleted", "adam3", "admin", func(t *testing.T) {
			grantsAPIOK(t, h, olga, 204, "DELETE", "/api/v1/users/adam3", "")
		}, true},
		{"custom role loses users.write", "hana", "helpdesk", func(t *testing.T) {
			grantsAPIOK(t, h, olga, 200, "PATCH", "/api/v1/roles/helpdesk", `{"permissions":["users.read"]}`)
		}, false},
	}
	creds := make([]grantsCreds, len(cases))
	for i, tc := range cases {
		target := "target" + string(rune('a'+i))
		h.addUser(tc.creator, bobPW, tc.role)
		h.addUser(target, alicePW, "user")
		c := grantsLogin(h, tc.creator, bobPW)
		if tc.invite {
			creds[i] = grantsMakeCreds(t, h, c, target, tc.creator+"-guest@example.com")
			continue
		}
		// helpdesk cannot invite admins: its invitation is for the user role.
		var link struct {
			Link     string `json:"link"`
			Password string `json:"password"`
		}
		creds[i].target = target
		grantsJSON(t, grantsAPIOK(t, h, c, 201, "POST", "/api/v1/users/"+target+"/reset-link", `{}`), &link)
		creds[i].reset = link.Link
		grantsJSON(t, grantsAPIOK(t, h, c, 201, "POST", "/api/v1/users/"+target+"/temp-password", `{}`), &link)
		creds[i].temp = link.Password
		grantsJSON(t, grantsAPIOK(t, h, c, 201, "POST", "/api/v1/invitations", `{"email":"hana-guest@example.com"}`), &link)
		creds[i].invite = link.Link
	}
	for i, tc := range cases {
		tc.lose(t)
		want := tc.name == "kept"
		if temp, reset, invite := grantsCredsWork(t, h, creds[i]); temp != want || reset != want || invite != want {
			t.Errorf("%s: temporary password works %v, reset link %v, invitation %v; want %v",
				tc.name, temp, reset, invite, want)
		}
	}
	void := secAudit(t, h, olga, "action=credential.void")
	if len(void) != 4*3 {
		t.Errorf("%d credential.void events, want 12: %v", len(void), void)
	}
	for _, e := range void {
		if r, _ := e["reason"].(string); !strings.Contains(r, "who made it") {
			t.Errorf("credential.void reason %q does not say why", r)
		}
	}
}

// TestSecurityGrantsListCredentials: owners list outstanding reset links and
// temporary passwords (who made them, for whom, when, until when; never
// the secret) and revoke them, through the API and on the user's page;
// nobody else may.
func TestSecurityGrantsListCredentials(t *testing.T) {
	h, olga, alice := secOwnerAndAlice(t)
	h.addUser("adam", bobPW, "admin")
	adam := grantsLogin(h, "adam", bobPW)
	var link struct {
		Link     string `json:"link"`
		Password string `json:"password"`
	}
	grantsJSON(t, grantsAPIOK(t, h, olga, 201, "POST", "/api/v1/users/alice/reset-link", `{}`), &link)
	resetLink := link.Link
	grantsJSON(t, grantsAPIOK(t, h, adam, 201, "POST", "/api/v1/users/alice/temp-password", `{}`), &link)
	tempPW := link.Password

	type item struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		User      string `json:"user"`
		CreatedBy string `json:"created_by"`
		CreatedAt string `json:"created_at"`
		ExpiresAt string `json:"expires_at"`
		Void      string `json:"void"`
	}
	list := func(path string) []item {
		b := grantsAPIOK(t, h, olga, 200, "GET", path, "")
		if strings.Contains(string(b), tempPW) || strings.Contains(string(b), resetLink[strings.LastIndex(resetLink, "/")+1:]) {
			t.Fatalf("%s shows a secret: %s", path, b)
		}
		var v struct {
			Items []item `json:"items"`
		}
		grantsJSON(t, b, &v)
		return v.Items
	}
	resets, temps := list("/api/v1/reset-links"), list("/api/v1/temp-passwords?user=alice")
	if len(resets) != 1 || resets[0].User != "alice" || resets[0].CreatedBy != "olga" || resets[0].Kind != "reset_link" ||
		resets[0].ExpiresAt == "" || resets[0].CreatedAt == "" || resets[0].Void != "" {
		t.Fatalf("reset links: %+v", resets)
	}
	if len(temps) != 1 || temps[0].User != "alice" || temps[0].CreatedBy != "adam" || temps[0].Kind != "temp_password" {
		t.Fatalf("temporary passwords: %+v", temps)
	}
	if got := list("/api/v1/temp-passwords?user=olga"); len(got) != 0 {
		t.Errorf("olga's temporary passwords: %+v", got)
	}

	// Nobody but an owner: not an admin, not the user.
	for _, c := range []struct {
		name   string
		client *http.Client
	}{{"admin", adam}, {"user", alice}} {
		for _, req := range [][2]string{
			{"GET", "/api/v1/reset-links"}, {"GET", "/api/v1/temp-passwords"},
			{"DELETE", "/api/v1/reset-links/" + resets[0].ID}, {"DELETE", "/api/v1/temp-passwords/" + temps[0].ID},
		} {
			if got, b := secAPI(t, h, c.client, req[0], req[1], ""); got != 403 || !strings.Contains(string(b), "only owners") {
				t.Errorf("%s %s %s: %d %s", c.name, req[0], req[1], got, b)
			}
		}
	}
	if _, page := do(t, adam, "GET", h.portalURL("/admin/users/alice"), nil, browser); strings.Contains(string(page), "Outstanding links") {
		t.Error("the admin's user page lists outstanding links")
	}

	// Revoke the temporary password through the API.
	grantsAPIOK(t, h, olga, 204, "DELETE", "/api/v1/temp-passwords/"+temps[0].ID, "")
	grantsAPIOK(t, h, olga, 404, "DELETE", "/api/v1/temp-passwords/"+temps[0].ID, "")
	if resp, _ := do(t, h.client(), "POST", h.portalURL("/api/v1/login"),
		strings.NewReader(`{"username":"alice","password":"`+tempPW+`"}`), jsonAPI); resp.StatusCode != 401 {
		t.Errorf("revoked temporary password signs in: %d", resp.StatusCode)
	}
	// Revoke the reset link on alice's page.
	_, page := do(t, olga, "GET", h.portalURL("/admin/users/alice"), nil, browser)
	action := "/credentials/reset-links/" + resets[0].ID + "/revoke"
	if !strings.Contains(string(page), "Outstanding links") || !strings.Contains(string(page), action) {
		t.Fatal("alice's page shows no revoke button for the reset link")
	}
	m := csrfInPage.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatal("no csrf token on the user page")
	}
	body, hdr := formBody("csrf", m[1])
	if resp, b := do(t, olga, "POST", h.portalURL("/admin/users/alice"+action), body, hdr); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke on the page: %d %s", resp.StatusCode, secPageError(b))
	}
	if resp, _ := do(t, h.client(), "GET", resetLink, nil, browser); resp.StatusCode != 404 {
		t.Errorf("revoked reset link: %d", resp.StatusCode)
	}
	if got := list("/api/v1/reset-links"); len(got) != 0 {
		t.Errorf("reset links after the revocation: %+v", got)
	}
	for _, action := range []string{"password.temp_revoke", "password.reset_link_revoke"} {
		ev := secAudit(t, h, olga, "action="+action)
		if len(ev) != 1 || ev[0]["actor"] != "olga" || ev[0]["resource"] != "user:alice" {
			t.Errorf("audit %s: %v", action, ev)
		}
	}
}
