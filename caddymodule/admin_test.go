package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAdminChangesReachTheGuard: access given and taken in the portal's API
// changes what the guard lets through on the very next request.
func TestAdminChangesReachTheGuard(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("bob", bobPW, "user")
	owner, bob := h.client(), h.client()
	h.apiLogin(owner, "olga", ownerPW)
	h.apiLogin(bob, "bob", bobPW)

	status := func(c *http.Client, u string) int {
		resp, _ := do(t, c, "GET", u, nil, jsonAPI)
		return resp.StatusCode
	}
	api := func(method, path, body string, want int) {
		t.Helper()
		resp, b := do(t, owner, method, h.portalURL(path), strings.NewReader(body), jsonAPI)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
	}

	if got := status(bob, h.appURL("/")); got != 200 {
		t.Fatalf("whoami (portal-managed, open) as bob: %d", got)
	}
	api("POST", "/api/v1/groups", `{"name":"staff"}`, 201)
	api("PATCH", "/api/v1/apps/whoami", `{"allow_groups":["staff"]}`, 200)
	if got := status(bob, h.appURL("/")); got != 403 {
		t.Fatalf("whoami restricted to staff, bob not in it: %d, want 403", got)
	}
	api("PUT", "/api/v1/groups/staff/members/bob", "", 204)
	if got := status(bob, h.appURL("/")); got != 200 {
		t.Fatalf("bob added to staff: %d, want 200", got)
	}
	if hdr, _ := h.lastSeen(); hdr.Get("Remote-Groups") != "staff" {
		t.Errorf("Remote-Groups = %q, want staff", hdr.Get("Remote-Groups"))
	}
	// A Caddyfile-configured app is read-only in the portal.
	api("PATCH", "/api/v1/apps/admins-only", `{"allow_groups":["staff"]}`, 403)
	// Disabling bob ends his session on the next request.
	api("PATCH", "/api/v1/users/bob", `{"active":false}`, 200)
	if got := status(bob, h.appURL("/")); got != 401 {
		t.Fatalf("disabled bob: %d, want 401", got)
	}
	// The change survives a reload: access lives in the store.
	h.start(h.caddyfile("", "# reloaded"))
	api("PATCH", "/api/v1/users/bob", `{"active":true}`, 200)
	bob = h.client()
	h.apiLogin(bob, "bob", bobPW)
	if got := status(bob, h.appURL("/")); got != 200 {
		t.Fatalf("bob after reload: %d, want 200", got)
	}
	// What the app is told follows the account at once.
	api("PATCH", "/api/v1/users/bob", `{"full_name":"Bob Builder","email":"Bob@Example.com","groups":["ops","staff"]}`, 200)
	if got := status(bob, h.appURL("/")); got != 200 {
		t.Fatalf("bob after a profile change: %d", got)
	}
	if hdr, _ := h.lastSeen(); hdr.Get("Remote-Name") != "Bob Builder" || hdr.Get("Remote-Email") != "Bob@Example.com" ||
		hdr.Get("Remote-Groups") != "ops,staff" {
		t.Errorf("headers after a profile change: name %q email %q groups %q", hdr.Get("Remote-Name"),
			hdr.Get("Remote-Email"), hdr.Get("Remote-Groups"))
	}
	// An administrator ending bob's sessions ends them on the next request.
	resp, b := do(t, owner, "DELETE", h.portalURL("/api/v1/users/bob/sessions"), nil, jsonAPI)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("end bob's sessions: %d %s", resp.StatusCode, b)
	}
	if got := status(bob, h.appURL("/")); got != 401 {
		t.Fatalf("bob after his sessions were ended: %d, want 401", got)
	}
	// And deleting him, a session he opened since.
	bob = h.client()
	h.apiLogin(bob, "bob", bobPW)
	api("DELETE", "/api/v1/users/bob", "", 204)
	if got := status(bob, h.appURL("/")); got != 401 {
		t.Fatalf("deleted bob: %d, want 401", got)
	}
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/(reset|invite)/[A-Za-z0-9_-]{43}`)

// TestMailDelivery: with an smtp block, reset and invitation links are
// emailed through a real SMTP server; forgot-password answers the same for
// unknown accounts and sends nothing.
func TestMailDelivery(t *testing.T) {
	h := newHarness(t)
	smtp := h.startWithMail()
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	anon := h.client()

	forgot := func(login string) []byte {
		resp, b := do(t, anon, "POST", h.portalURL("/api/v1/password/forgot"), strings.NewReader(`{"login":"`+login+`"}`), jsonAPI)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("forgot %s: %d %s", login, resp.StatusCode, b)
		}
		return b
	}
	unknown := forgot("nobody")
	known := forgot("alice@example.com")
	if !bytes.Equal(unknown, known) {
		t.Errorf("forgot answers differ:\n%s\n%s", unknown, known)
	}
	msgs := waitNonNotices(t, smtp, 1)
	if len(msgs) != 1 || msgs[0].To[0] != "alice@example.com" {
		t.Fatalf("messages = %+v", msgs)
	}
	link := linkRE.FindString(msgs[0].Text)
	if !strings.Contains(link, "/reset/") {
		t.Fatalf("no reset link in:\n%s", msgs[0].Text)
	}

	// The link sets a new password once; alice's old password stops working.
	newPW := "Changed-Pa55word"
	body, hdr := formBody("password", newPW, "password2", newPW, "password_confirm", newPW)
	resp, b := do(t, anon, "POST", link, body, hdr)
	if resp.StatusCode >= 400 {
		t.Fatalf("reset: %d %s", resp.StatusCode, b)
	}
	h.apiLogin(h.client(), "alice", newPW)
	body, hdr = formBody("password", "Another-Pa55word", "password2", "Another-Pa55word", "password_confirm", "Another-Pa55word")
	if resp, _ := do(t, anon, "POST", link, body, hdr); resp.StatusCode < 400 {
		t.Errorf("a used reset link worked again: %d", resp.StatusCode)
	}

	// An invitation is emailed and its link is in the API answer too.
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	resp, b = do(t, owner, "POST", h.portalURL("/api/v1/invitations"), strings.NewReader(`{"email":"carol@example.com","groups":["staff"]}`), jsonAPI)
	if resp.StatusCode != 201 {
		t.Fatalf("invite: %d %s", resp.StatusCode, b)
	}
	var inv struct {
		Link    string `json:"link"`
		Emailed bool   `json:"emailed"`
	}
	_ = json.Unmarshal(b, &inv)
	msgs = waitNonNotices(t, smtp, 2)
	if !inv.Emailed || linkRE.FindString(msgs[1].Text) != inv.Link || msgs[1].To[0] != "carol@example.com" {
		t.Errorf("invitation mail %+v, answer %s", msgs[1], b)
	}
}

// TestCLIImportExport: `caddy gatehouse import` refuses a file with bad
// rows, naming each, and imports a good one; export lists the users.
func TestCLIImportExport(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	addr := "127.0.0.1:" + strconv.Itoa(h.admin)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.csv", "username,email,role,groups\nann,ann@example.com,user,staff\nBad Name,,user,\nben,ben@example.com,wizard,\n")
	out, err := runCommand(t, importCommand(), "", bad, "--address", addr)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 rows") {
		t.Fatalf("bad import: %v\n%s", err, out)
	}
	good := write("good.csv", "username,email,full_name,role,groups\nann,ann@example.com,Ann A,user,staff ops\nben,ben@example.com,,auditor,\n")
	out, err = runCommand(t, importCommand(), "", good, "--address", addr, "--dry-run")
	if err != nil || !strings.Contains(out, "all 2 rows are valid") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = runCommand(t, importCommand(), "", good, "--address", addr)
	if err != nil || !strings.Contains(out, "ann") || !strings.Contains(out, "/reset/") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = runCommand(t, exportCommand(), "", "--address", addr, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var users []struct {
		Username string   `json:"username"`
		Role     string   `json:"role"`
		Groups   []string `json:"groups"`
	}
	if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 2 ||
		users[0].Username != "ann" || strings.Join(users[0].Groups, ",") != "ops,staff" || users[1].Role != "auditor" {
		t.Fatalf("export = %s (%v)", out, err)
	}
}
