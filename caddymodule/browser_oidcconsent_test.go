package caddymodule

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserOIDCConsent drives the consent page and Connected apps in a
// real headless Chromium: Allow reaches the app with a code (the page's
// form-action lets the redirect chain end at the app), Deny reaches it
// with access_denied, the profile lists the app and disconnects it; the
// pages fit a 390 px phone. With GATEHOUSE_SHOTS=dir it saves screenshots.
func TestBrowserOIDCConsent(t *testing.T) {
	br := newBrowserRun(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "the app got "+r.URL.RawQuery)
	}))
	defer app.Close()
	h := newHarness(t)
	h.start(h.caddyfile(fmt.Sprintf(`app forum {
			title "Community forum"
			url https://forum.example.com
			oidc {
				redirect_uri %s/cb
				client_secret %s
				consent
			}
		}`, app.URL, rpSecret), ""))
	h.addUser("alice", "Correct horse battery 9", "user", "ops")
	provider, err := oidc.NewProvider(context.Background(), h.portalURL(""))
	if err != nil {
		t.Fatal(err)
	}
	forum := &oauth2.Config{ClientID: "forum", ClientSecret: rpSecret, RedirectURL: app.URL + "/cb", Endpoint: provider.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups", "offline_access"}}

	br.do("sign in", chromedp.Navigate(h.portalURL("/login")), submit("#username", "#username", "alice", "#password", "Correct horse battery 9"))
	v := oauth2.GenerateVerifier()
	br.do("authorize", chromedp.Navigate(forum.AuthCodeURL("st1", oauth2.S256ChallengeOption(v))), waitURL(h.portalURL("/oidc/continue")))
	text := br.eval("consent", "document.body.innerText")
	for _, want := range []string{"Allow Community forum?", "read your username and name", "read your e-mail address", "read your groups", "stay signed in (offline access)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, text)
		}
	}
	br.shot("oidc-consent-1280")
	br.screen(390, 844, true)
	br.fits(t, "the consent page")
	br.shot("oidc-consent-390")
	br.screen(1280, 900, false)

	br.do("deny", markPage, chromedp.Click(chromedp.CSS(`button[value="deny"]`)), waitURL(app.URL+"/cb?"))
	if loc := br.eval("after deny", "location.href"); !strings.Contains(loc, "error=access_denied") || !strings.Contains(loc, "state=st1") {
		t.Fatalf("after deny: %s", loc)
	}
	br.do("authorize again", chromedp.Navigate(forum.AuthCodeURL("st2", oauth2.S256ChallengeOption(v))), waitURL(h.portalURL("/oidc/continue")))
	br.do("allow", markPage, chromedp.Click(chromedp.CSS(`button[value="allow"]`)), waitURL(app.URL+"/cb?"))
	loc, _ := url.Parse(br.eval("after allow", "location.href"))
	if loc.Query().Get("code") == "" || loc.Query().Get("state") != "st2" {
		t.Fatalf("after allow: %s", loc)
	}
	if _, err := forum.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Fatal(err)
	}

	br.do("profile", chromedp.Navigate(h.portalURL("/profile")), chromedp.WaitReady(chromedp.CSS("#connected-apps-title")))
	if text := br.eval("connected", `document.getElementById("connected-apps-title").closest("section").innerText`); !strings.Contains(text, "Community forum") || !strings.Contains(text, "your groups") {
		t.Errorf("connected apps: %s", text)
	}
	br.shot("connected-apps-1280")
	br.shot("connected-apps-section-1280", `section[aria-labelledby="connected-apps-title"]`)
	br.screen(390, 844, true)
	br.do("profile", chromedp.Navigate(h.portalURL("/profile")), chromedp.WaitReady(chromedp.CSS("#connected-apps-title")))
	br.fits(t, "the profile page")
	br.shot("connected-apps-390")
	br.shot("connected-apps-section-390", `section[aria-labelledby="connected-apps-title"]`)
	br.screen(1280, 900, false)
	br.do("disconnect", submit(`form[action="/profile/connected-apps/forum/revoke"]`))
	if text := br.eval("after disconnect", "document.body.innerText"); !strings.Contains(text, "The app is disconnected") || !strings.Contains(text, "No connected apps") {
		t.Errorf("after disconnect: %s", text)
	}
}

// TestBrowserOIDCSignInReachesApp: a user who is not signed in when an app
// sends them to /authorize signs in with the portal's form and lands on
// the app with a code (the redirect chain after the form must not be held
// to the page's form-action).
func TestBrowserOIDCSignInReachesApp(t *testing.T) {
	ctx := newBrowser(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "the app got "+r.URL.RawQuery)
	}))
	defer app.Close()
	h := newHarness(t)
	h.start(h.caddyfile(fmt.Sprintf(`app wiki {
			oidc {
				redirect_uri %s/cb
				client_secret %s
			}
		}`, app.URL, rpSecret), ""))
	h.addUser("alice", "Correct horse battery 9", "user", "ops")
	provider, err := oidc.NewProvider(context.Background(), h.portalURL(""))
	if err != nil {
		t.Fatal(err)
	}
	wiki := &oauth2.Config{ClientID: "wiki", ClientSecret: rpSecret, RedirectURL: app.URL + "/cb", Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID}}
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(wiki.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), chromedp.WaitReady(chromedp.CSS("#username")),
		chromedp.SetValue(chromedp.CSS("#username"), "alice"), chromedp.SetValue(chromedp.CSS("#password"), "Correct horse battery 9"),
		chromedp.Submit(chromedp.CSS("#username")), waitURL(app.URL + "/cb?"),
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.href"))
		t.Fatalf("sign in from /authorize: %v (at %s)", err, loc)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.href"))
	if u, _ := url.Parse(loc); u == nil || u.Query().Get("code") == "" {
		t.Fatalf("at %s", loc)
	}
}
