package portal

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/policies"
)

var (
	mainRe      = regexp.MustCompile(`(?s)<main\b.*</main>`)
	scriptRe    = regexp.MustCompile(`(?is)<(script|style|code|textarea)\b.*?</(script|style|code|textarea)>`)
	adminTagRe  = regexp.MustCompile(`<[^>]*>`)
	adminWordRe = regexp.MustCompile(`\p{L}{2,}`)
	numericRe   = regexp.MustCompile(`^[\d\s.,:;/()%+\-–—→←·]*$`)
)

// visibleText lists the text pieces of the page's <main>, trimmed, in
// order, without code (configuration snippets are the same in every
// language) and text areas (new links and secrets).
func visibleText(page string) []string {
	m := mainRe.FindString(page)
	m = scriptRe.ReplaceAllString(m, "")
	var out []string
	for _, s := range strings.Split(adminTagRe.ReplaceAllString(m, "\n"), "\n") {
		s = strings.Join(strings.Fields(html.UnescapeString(s)), " ")
		if s != "" && !numericRe.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}

// translatedAdminPages are the admin pages (paths after /admin/) whose
// text is in the catalogue.
var translatedAdminPages = map[string]bool{
	"settings": true, "audit": true, "invitations": true, "sessions": true, "ldap": true,
	"roles": true, "roles/auditor": true, "roles/helpdesk": true,
	"apps": true, "apps/wiki": true, "apps/locked": true,
	"groups": true, "groups/staff": true,
	"users": true, "users/new": true, "users/import": true, "users/tgt": true,
}

// getIn opens path with the browser's Accept-Language set to lang.
func (b *browser) getIn(path, lang string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", lang)
	return b.do(req)
}

// TestAdminPagesTranslated opens every admin page as an owner in German
// and French (by the browser's Accept-Language, and by the profile's
// language over an English browser): each renders (a missing message is a
// template error, so a 500), says it is in that language, and its visible
// text differs from the English page's; no sentence of three words or more
// is left in English. The flash messages of forms are in the language of
// the request that sent them.
func TestAdminPagesTranslated(t *testing.T) {
	e := newPageEnv(t, nil)
	mustUser(t, e.svc, "tgt", policies.RoleUser, "staff")
	mustUser(t, e.svc, "olga", policies.RoleOwner)
	if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "wiki", Title: "Wiki", URL: "https://wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Access.RegisterApp(AppConfig{Name: "locked", Title: "Locked", AllowGroups: []string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Access.CreateRole(e.svc.localAdmin(), RoleInput{Name: "helpdesk", Permissions: &[]string{"users.read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.core.Credentials.CreateInvitation(context.Background(), e.svc.localAdmin(), InvitationInput{Email: "inv@example.com"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn("olga")
	var views []adminView
	matched := map[string]bool{}
	for _, pg := range adminPages {
		key := strings.SplitN(strings.TrimPrefix(pg.path, "/admin/"), "?", 2)[0]
		if translatedAdminPages[key] {
			matched[key] = true
			path := pg.path
			views = append(views, adminView{name: "GET " + path, status: http.StatusOK, open: func(b *browser, _, accept string) (*http.Response, string) { return b.getIn(path, accept) }})
		}
	}
	for _, v := range adminPosts {
		if translatedAdminPages[v.page] {
			status := v.status
			if status == 0 {
				status = http.StatusOK
			}
			views = append(views, adminView{name: "POST " + v.path, status: status, open: func(b *browser, run, accept string) (*http.Response, string) {
				form := v.form(run)
				form.Set("csrf", b.csrf(v.from))
				resp, body := b.postIn(v.path, accept, form)
				return resp, strings.ReplaceAll(body, run, "RUN")
			}})
		}
	}
	for key := range translatedAdminPages {
		if !matched[key] {
			t.Errorf("translatedAdminPages: no admin page /admin/%s", key)
		}
	}
	english := map[string][]string{}
	for _, v := range views {
		resp, body := v.open(b, "qqen", "en")
		if resp.StatusCode != v.status || resp.Header.Get("Content-Language") != "en" {
			t.Fatalf("%s in English: %d, Content-Language %q: %s", v.name, resp.StatusCode, resp.Header.Get("Content-Language"), visibleText(body))
		}
		english[v.name] = visibleText(body)
	}
	check := func(t *testing.T, lang, run, accept string) {
		for _, v := range views {
			resp, body := v.open(b, run, accept)
			if resp.StatusCode != v.status || resp.Header.Get("Content-Language") != lang {
				t.Errorf("%s: %d, Content-Language %q; want %d in %s", v.name, resp.StatusCode, resp.Header.Get("Content-Language"), v.status, lang)
				continue
			}
			text, en := visibleText(body), english[v.name]
			if strings.Join(text, "\n") == strings.Join(en, "\n") {
				t.Errorf("%s: the page is the English one", v.name)
				continue
			}
			inEnglish := map[string]bool{}
			for _, s := range en {
				inEnglish[s] = true
			}
			for _, s := range text {
				if inEnglish[s] && len(strings.Fields(s)) >= 3 && len(adminWordRe.FindAllString(s, -1)) >= 3 {
					t.Errorf("%s: %q is still in English", v.name, s)
				}
			}
		}
	}
	for _, lang := range []string{"de", "fr"} {
		t.Run(lang+" browser", func(t *testing.T) { check(t, lang, "qq"+lang, lang+"-CH,"+lang+";q=0.9,en;q=0.5") })
	}
	t.Run("fr profile", func(t *testing.T) {
		if resp, _ := b.submit("/profile", "/profile/language", url.Values{"language": {"fr"}, "time_zone": {"Europe/Paris"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("choosing French on the profile: %d", resp.StatusCode)
		}
		check(t, "fr", "qqfrp", "en")
	})
}

// adminView is one admin page to render in every language: open shows it
// for the run (a word unique to each rendering, replaced by "RUN" in the
// body) with Accept-Language accept.
type adminView struct {
	name   string
	status int
	open   func(b *browser, run, accept string) (*http.Response, string)
}

// adminPosts are the admin pages shown as the answer of a form: page is
// their key in translatedAdminPages, from the page whose CSRF token the
// form carries, form the fields for a run, status the answer's.
var adminPosts = []struct {
	page, from, path string
	form             func(run string) url.Values
	status           int // 0: 200
}{
	{"invitations", "/admin/invitations", "/admin/invitations", func(run string) url.Values {
		return url.Values{"email": {run + "@example.com"}, "role": {"user"}}
	}, 0},
	{"apps", "/admin/apps", "/admin/apps", func(run string) url.Values {
		return url.Values{"name": {run}, "redirect_uris": {"https://" + run + ".example.com/cb"}}
	}, 0},
	{"users/new", "/admin/users/new", "/admin/users/new", func(run string) url.Values {
		return url.Values{"username": {run}, "role": {"user"}}
	}, 0},
	{"users/tgt", "/admin/users/tgt", "/admin/users/tgt/reset-link", func(string) url.Values { return url.Values{} }, 0},
	{"users/tgt", "/admin/users/tgt", "/admin/users/tgt/temp-password", func(string) url.Values { return url.Values{} }, 0},
	{"users/import", "/admin/users/import", "/admin/users/import", func(run string) url.Values {
		return url.Values{"data": {"username,email\n" + run + "x," + run + "x@example.com\n"}, "format": {"csv"}, "dry_run": {"1"}}
	}, 0},
	{"ldap", "/admin/ldap", "/admin/ldap/clients", func(run string) url.Values { return url.Values{"name": {run}, "app": {"wiki"}} }, 0},
}

// postIn posts form to path with Accept-Language accept.
func (b *browser) postIn(path, accept string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", accept)
	return b.do(req)
}

// TestSettingsDefaultLanguage: the settings form sets default_language,
// which then chooses the language of a browser that asks for none; a form
// without the field (an older page) leaves it; a language the catalogue
