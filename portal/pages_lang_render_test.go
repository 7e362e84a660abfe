package portal

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

var (
	hiddenRe = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<svg.*?</svg>|<pre.*?</pre>|<code.*?</code>|<textarea.*?</textarea>`)
	tagRe    = regexp.MustCompile(`<[^>]*>`)
	wordRe   = regexp.MustCompile(`\pL{2,}`)
	// notProse is text that is data in every language: URLs, paths,
	// commands, audit details.
	notProse = regexp.MustCompile(`://|^~/|\[\]|^[a-z]+:\S+$|^[a-z0-9./_-]+( [a-z0-9./_-]+)*$`)
)

// visibleSentences are the texts between tags of a page with at least
// four words: what a reader sees as sentences (code, scripts, icons, and
// data such as addresses, commands and audit details left out).
func visibleSentences(page string) []string {
	var out []string
	for _, seg := range tagRe.Split(hiddenRe.ReplaceAllString(page, ""), -1) {
		seg = strings.Join(strings.Fields(html.UnescapeString(seg)), " ")
		if notProse.MatchString(seg) {
			continue
		}
		if len(wordRe.FindAllString(seg, -1)) >= 4 {
			out = append(out, seg)
		}
	}
	return out
}

// renderedPage is one page rendered in one language.
type renderedPage struct {
	status int
	body   string
}

// TestEveryPageInEveryLanguage renders every page of pageNames in every
// language: through the real routes where a GET or a form gets there, and
// with the data its handler builds for the pages behind one-time links
// and sign-in flows. It fails on a render error (a missing message fails
// the template), a page in the wrong language, a page whose German or
// French text is the English one, and an English sentence left in a
// German or French page.
func TestEveryPageInEveryLanguage(t *testing.T) {
	e := newPageEnv(t, nil)
	ctx := context.Background()
	mustUser(t, e.svc, "rosa", policies.RoleOwner)
	mustUser(t, e.svc, "tgt", policies.RoleUser, "staff")
	if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "wiki", Title: "Wiki", URL: "https://wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Access.CreateRole(e.svc.localAdmin(), RoleInput{Name: "helpdesk", Permissions: &[]string{"users.read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Credentials.CreateInvitation(ctx, e.svc.localAdmin(), InvitationInput{Email: "inv@example.com"}); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(72 * time.Hour)
	// The pages behind one-time links and sign-in steps, with the data
	// their handlers build.
	direct := map[string]page{
		"setup":       {Title: "setup", Form: map[string]string{"token": "t"}, PasswordRules: e.svc.core.PasswordRules().Describe()},
		"forgot_sent": {Title: "forgot_sent", Data: forgotData{MailEnabled: true}},
		"reset":       {Title: "reset", PasswordRules: e.svc.core.PasswordRules().Describe(), Data: resetData{Token: "t", Username: "tgt"}},
		"reset_done":  {Title: "reset_done", Data: resetData{Username: "tgt"}},
		"invite": {Title: "invite", PasswordRules: e.svc.core.PasswordRules().Describe(), Form: map[string]string{},
			Data: inviteData{Token: "t", Email: "inv@example.com", Role: "user", InvitedBy: "rosa", Groups: []string{"staff"}, ExpiresAt: exp}},
		"owner_login":   {Title: "owner_login", Data: ownerLoginData{Token: "t", Username: "rosa", FullName: "Rosa", ExpiresAt: exp}},
		"email_confirm": {Title: "email_confirm", Data: emailConfirmData{Token: "t", Username: "tgt", Email: "new@example.com", Current: "old@example.com"}},
		"login_2fa":     {Title: "login_2fa", Data: secondStepData{Username: "tgt", Methods: []string{"totp", "backup", "webauthn"}}},
		"totp_setup":    {Title: "totp_setup", Data: totpSetupData{Action: "/login/enroll", Required: true}},
		"backup_codes":  {Title: "backup_codes", Data: backupCodesData{Codes: []string{"aaaaa-bbbbb", "ccccc-ddddd"}, Next: "/"}},
		"oidc_error": {Title: "oidc_error", Status: http.StatusBadGateway, Message: "m",
			Data: oidcErrorData{LoginURL: "/login", RetryURL: "/login/oidc/corp", Provider: "Corp"}},
		"oidc_consent": {Title: "oidc_consent", User: pageUserOf(mustUserOf(t, e, "rosa")),
			Data: consentData{ID: "x", App: "wiki", AppTitle: "Wiki", AppURL: "https://wiki.example.com", Scopes: []string{"email"}, Host: "wiki.example.com"}},
	}
	// The pages the routes show: path, and for a form, its fields.
	type route struct {
		name, path string
		form       url.Values
		signedIn   bool
	}
	routes := []route{
		{"login", "/login", nil, false},
		{"forgot", "/forgot", nil, false},
		{"logout", "/logout", nil, false},
		{"error", "/no-such-page", nil, false},
		{"home", "/", nil, true},
		{"profile", "/profile", nil, true},
		{"password", "/profile/password", nil, true},
		{"users", "/admin/users", nil, true},
		{"user_new", "/admin/users/new", nil, true},
		{"user_import", "/admin/users/import", nil, true},
		{"user", "/admin/users/tgt", nil, true},
		{"link", "/admin/users/tgt/reset-link", url.Values{}, true},
		{"groups", "/admin/groups", nil, true},
		{"group", "/admin/groups/staff", nil, true},
		{"apps", "/admin/apps", nil, true},
		{"app", "/admin/apps/wiki", nil, true},
		{"app_secret", "/admin/apps", url.Values{"name": {"grafana"}, "redirect_uris": {"https://grafana.example.com/cb"}}, true},
		{"roles", "/admin/roles", nil, true},
		{"role", "/admin/roles/helpdesk", nil, true},
		{"ldap", "/admin/ldap", nil, true},
		{"sessions", "/admin/sessions", nil, true},
		{"invitations", "/admin/invitations", nil, true},
		{"audit", "/admin/audit", nil, true},
		{"settings", "/admin/settings", nil, true},
	}

	got := map[string]map[string]renderedPage{} // page → language → rendering
	for _, tag := range i18n.Supported {
		anon, owner := e.browser(t), e.browser(t)
		owner.signIn("rosa")
		for _, rt := range routes {
			b := anon
			if rt.signedIn {
				b = owner
			}
			var req *http.Request
			if rt.form != nil {
				form := url.Values{}
				for k, v := range rt.form {
					form[k] = slices.Clone(v)
				}
				if rt.name == "app_secret" {
					form.Set("name", form.Get("name")+tag)
				}
				form.Set("csrf", b.csrf("/"))
				req, _ = http.NewRequest("POST", b.base+rt.path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req, _ = http.NewRequest("GET", b.base+rt.path, nil)
			}
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Accept-Language", tag+";q=1, en;q=0.1")
			resp, body := b.do(req)
			if got[rt.name] == nil {
				got[rt.name] = map[string]renderedPage{}
			}
			got[rt.name][tag] = renderedPage{resp.StatusCode, body}
		}
		for name, p := range direct {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Accept-Language", tag)
			e.svc.render(rec, req, http.StatusOK, name, p)
			if got[name] == nil {
				got[name] = map[string]renderedPage{}
			}
			got[name][tag] = renderedPage{rec.Code, rec.Body.String()}
		}
	}

	for _, name := range pageNames {
		byLang, ok := got[name]
		if !ok {
			t.Errorf("page %s was not rendered", name)
			continue
		}
		en := visibleSentences(byLang["en"].body)
		for _, tag := range i18n.Supported {
			r := byLang[tag]
			want := http.StatusOK
			if name == "error" {
				want = http.StatusNotFound
			}
			if r.status != want || !strings.Contains(r.body, `<html lang="`+tag+`">`) {
				t.Errorf("%s (%s): status %d, not a page in %s", name, tag, r.status, tag)
				continue
			}
			if tag == "en" {
				continue
			}
			if visible := visibleSentences(r.body); slices.Equal(visible, en) {
				t.Errorf("%s (%s): the text is the English text", name, tag)
			}
			for _, s := range visibleSentences(r.body) {
				if slices.Contains(en, s) {
					t.Errorf("%s (%s): English left in the page: %q", name, tag, s)
				}
			}
		}
	}
}

// mustUserOf reads the stored user name.
func mustUserOf(t *testing.T, e *pageEnv, name string) *store.User {
	t.Helper()
	u, err := e.st.UserByUsername(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
