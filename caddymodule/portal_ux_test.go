package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// uxPage GETs a portal page as a browser and returns its HTML.
func uxPage(t *testing.T, h *harness, c *http.Client, path string) string {
	t.Helper()
	resp, b := do(t, c, "GET", h.portalURL(path), nil, browser)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(b)
}

// uxPost submits a form of the page at from to action, with its CSRF token.
func uxPost(t *testing.T, h *harness, c *http.Client, from, action string, kv ...string) (*http.Response, string) {
	t.Helper()
	m := csrfInPage.FindStringSubmatch(uxPage(t, h, c, from))
	if m == nil {
		t.Fatalf("no csrf token on %s", from)
	}
	body, hdr := formBody(append([]string{"csrf", m[1]}, kv...)...)
	resp, b := do(t, c, "POST", h.portalURL(action), body, hdr)
	return resp, string(b)
}

// TestPortalPlainErrors: the API and the forms say what is wrong in plain
// sentences, without the field or sentinel names of the code ("password:
// password does not meet the rules", "is taken: already exists"); a 400
// names its field, and the form shows the message beside that field.
func TestPortalPlainErrors(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)

	tests := []struct {
		name, body string
		status     int
		msg, field string
	}{
		{"reserved username", `{"username":"admin","password":"Strong-passw0rd"}`, 400,
			`the username "admin" is reserved: choose another one`, "username"},
		{"bad username", `{"username":"a b","password":"Strong-passw0rd"}`, 400,
			`the username "a b" may contain only lowercase letters, digits, ".", "-" and "_"`, "username"},
		{"missing username", `{"password":"Strong-passw0rd"}`, 400, "the username is required", "username"},
		{"weak password", `{"username":"bob","password":"short"}`, 400,
			"the password must have at least 8 characters, an upper-case letter and a digit", "password"},
		{"password with the username", `{"username":"bobby","password":"Bobby-passw0rd"}`, 400,
			"the password must not contain the username", "password"},
		{"bad email", `{"username":"bob","email":"nope","password":"Strong-passw0rd"}`, 400,
			`the email must be a valid email address, not "nope"`, "email"},
		{"username taken", `{"username":"alice","password":"Strong-passw0rd"}`, 409,
			`the username "alice" is already taken`, ""},
		{"email taken", `{"username":"bob","email":"alice@example.com","password":"Strong-passw0rd"}`, 409,
			`the email address "alice@example.com" is already used by another account`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := secAPI(t, h, olga, "POST", "/api/v1/users", tt.body)
			var v map[string]string
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%d %s", code, b)
			}
			if code != tt.status || v["error"] != tt.msg || v["field"] != tt.field {
				t.Errorf("got %d %q field %q, want %d %q field %q", code, v["error"], v["field"], tt.status, tt.msg, tt.field)
			}
		})
	}

	// The new-user form: the error sits beside its field, which is marked
	// invalid and described by it.
	forms := []struct {
		name, field, msg string
		kv               []string
	}{
		{"username taken", "username", "The username &#34;alice&#34; is already taken.",
			[]string{"username", "alice", "password", "Strong-passw0rd", "password2", "Strong-passw0rd", "role", "user"}},
		{"weak password", "password", "The password must have at least 8 characters, an upper-case letter and a digit.",
			[]string{"username", "bob", "password", "short", "password2", "short", "role", "user"}},
		{"fallback email", "fallback_email", "The fallback email must be a valid email address, not &#34;x&#34;.",
			[]string{"username", "bob", "fallback_email", "x", "role", "user"}},
	}
	for _, f := range forms {
		t.Run("form "+f.name, func(t *testing.T) {
			resp, page := uxPost(t, h, olga, "/admin/users/new", "/admin/users/new", f.kv...)
			if resp.StatusCode < 400 {
				t.Fatalf("%d, want an error", resp.StatusCode)
			}
			inline := fmt.Sprintf(`<p class="field-error" id="%s-error">%s</p>`, f.field, f.msg)
			if !strings.Contains(page, inline) {
				t.Errorf("no %s beside the field; the page's error: %s", inline, secPageError([]byte(page)))
			}
			input := regexp.MustCompile(`<input id="` + f.field + `"[^>]*>`).FindString(page)
			if !strings.Contains(input, `aria-invalid="true"`) || !regexp.MustCompile(`aria-describedby="[^"]*\b`+f.field+`-error\b`).MatchString(input) {
				t.Errorf("the field is not marked invalid and described by its error: %s", input)
			}
		})
	}
}

// TestPortalAuditOutcomes: the audit log labels outcomes alike:
// "Success" and "Failure", never a raw "failure" beside "Success".
func TestPortalAuditOutcomes(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	resp, _ := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), strings.NewReader(`{"username":"alice","password":"wrong"}`), jsonAPI)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	page := uxPage(t, h, olga, "/admin/audit")
	if !strings.Contains(page, `<span class="badge badge-ok">Success</span>`) || !strings.Contains(page, `<span class="badge badge-danger">Failure</span>`) {
		t.Error("the audit log does not label outcomes Success and Failure")
	}
	if strings.Contains(page, ">failure<") || strings.Contains(page, ">success<") {
		t.Error("the audit log shows a raw outcome")
	}
}

// TestPortalImpersonationNotice: an impersonation shows one banner, with
// both names and its end, and no second notice that contradicts it.
func TestPortalImpersonationNotice(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	resp, _ := uxPost(t, h, olga, "/admin/users/alice", "/admin/users/alice/impersonate")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("impersonate: %d", resp.StatusCode)
	}
	page := uxPage(t, h, olga, "/")
	if n := strings.Count(page, "are acting as") + strings.Count(page, "now acting as"); n != 1 {
		t.Errorf("%d notices about the impersonation, want one banner", n)
	}
	if !strings.Contains(page, "You, <strong>olga</strong>, are acting as <strong>alice</strong> until <time") ||
		!strings.Contains(page, "recorded with both names") {
		t.Error("the banner does not name both users and the end")
	}
	if strings.Contains(page, "recorded with your name") || strings.Contains(page, `class="alert alert-info"`) {
		t.Error("a second notice contradicts the banner")
	}
}

// TestPortalAppsSnippet: the Apps page shows the Caddyfile site that adds
// an app, for the portal's own host, with a copy button.
func TestPortalAppsSnippet(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	page := uxPage(t, h, olga, "/admin/apps")
	site := fmt.Sprintf("http://127.0.0.1:%d {", h.portal+10)
	if !strings.Contains(page, `<pre class="snippet" id="app-snippet"><code>`+site) ||
		!strings.Contains(page, "\tgatehouse myapp {") || !strings.Contains(page, "\treverse_proxy ") {
		t.Errorf("no Caddyfile snippet for %s on the Apps page", site)
	}
	if !strings.Contains(page, `data-copy="#app-snippet"`) {
		t.Error("the snippet has no copy button")
	}
}

// TestPortalCopyButtonsAndLocalTimes: one-time secrets carry copy buttons
// (backup codes also a download), handled by the portal's own script, and
// times are marked UTC for the script to show in the viewer's time zone.
func TestPortalCopyButtonsAndLocalTimes(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	resp, page := uxPost(t, h, olga, "/admin/users/alice", "/admin/users/alice/reset-link")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<textarea id="link"`) {
		t.Fatalf("reset link page: %d", resp.StatusCode)
	}
	if !strings.Contains(page, `data-copy="#link"`) || !strings.Contains(page, `<script src="/assets/gatehouse.js" defer></script>`) {
		t.Error("the reset link has no copy button, or the page lacks gatehouse.js")
	}
	if !strings.Contains(page, `<div id="copy-status" class="visually-hidden" role="status" aria-live="polite">`) {
		t.Error("no live region to announce the copy")
	}
	resp, js := do(t, h.client(), "GET", h.portalURL("/assets/gatehouse.js"), nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") ||
		!strings.Contains(string(js), "navigator.clipboard") || !strings.Contains(string(js), "Intl.DateTimeFormat") {
		t.Errorf("gatehouse.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	audit := uxPage(t, h, olga, "/admin/audit")
	if !regexp.MustCompile(`<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" data-local>\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC</time>`).MatchString(audit) {
		t.Error("audit times are not <time datetime=… data-local>… UTC</time>")
	}
}
