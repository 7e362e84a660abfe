package portal

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The HTTP handlers.

// oidcErrorData fills oidc_error.html.
type oidcErrorData struct {
	// LoginURL goes back to the login page; RetryURL starts the provider
	// again (empty when retrying cannot help).
	LoginURL, RetryURL string
	Provider           string
}

// renderOIDCError shows a failed sign-in through p.
func (s signInUI) renderOIDCError(w http.ResponseWriter, r *http.Request, status int, p *oidcProvider, rd, title, msg string, retry bool) {
	rd = s.secondStepUI().cleanRD(rd)
	d := oidcErrorData{LoginURL: "/login", Provider: p.DisplayName}
	if rd != "" {
		d.LoginURL += "?rd=" + url.QueryEscape(rd)
	}
	if retry {
		d.RetryURL = "/login/oidc/" + p.Name
		if rd != "" {
			d.RetryURL += "?rd=" + url.QueryEscape(rd)
		}
	}
	s.render(w, r, status, "oidc_error", page{Title: title, Status: status, Message: msg, Data: d})
}

// oidcFail shows a failed flow: the sign-in error page, or for a link the
// error page of the signed-in user (who goes back to their profile).
func (s signInUI) oidcFail(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, status int, title, msg string) {
	if f.purpose == oidcPurposeLink {
		u, _ := s.store.User(f.userID)
		s.renderError(w, r, status, title, msg, u)
		return
	}
	s.renderOIDCError(w, r, status, p, f.rd, title, msg, true)
}

// handleOIDCStart sends the browser to the provider to sign in.
func (s signInUI) handleOIDCStart(w http.ResponseWriter, r *http.Request) {
	p := s.oidcProvider(r.PathValue("provider"))
	if p == nil {
		s.handleNotFound(w, r)
		return
	}
	rd := s.secondStepUI().cleanRD(r.URL.Query().Get("rd"))
	to, err := s.beginOIDC(w, p, oidcPurposeLogin, nil, rd)
	if err != nil {
		s.log.Error("oidc: start sign-in", "provider", p.Name, "error", err)
		l := s.pages.lang(r.Header, nil)
		s.renderOIDCError(w, r, http.StatusServiceUnavailable, p, rd, l.S("msg.oidc.sign_in_unavailable"),
			l.S("msg.oidc.sign_in_unavailable_text", "Provider", p.DisplayName), false)
		return
	}
	attemptSucceeded(r.Context()) // starting a sign-in checks no secret
	http.Redirect(w, r, to, http.StatusFound)
}

// handleOIDCCallback receives the provider's answer, for a sign-in or a
// link.
func (s signInUI) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	p := s.oidcProvider(r.PathValue("provider"))
	if p == nil {
		s.handleNotFound(w, r)
		return
	}
	reason := "oidc " + p.Name + ": "
	f, err := s.takeOIDCFlow(w, r, p)
	if err != nil && !errors.Is(err, errOIDCState) {
		s.log.Error("oidc: callback", "provider", p.Name, "error", err)
		s.renderOIDCError(w, r, http.StatusInternalServerError, p, "", s.pages.lang(r.Header, nil).S("msg.secondfactor.something_went_wrong"), s.pages.lang(r.Header, nil).S("msg.oidc.your_sign_in_could"), true)
		return
	}
	if err != nil {
		s.core.Audit(s.requestActor(r), store.Event{Action: core.ActionLogin, Outcome: outcomeFailure, Reason: reason + err.Error()})
		s.renderOIDCError(w, r, http.StatusBadRequest, p, "", "Sign-in not valid",
			s.pages.lang(r.Header, nil).S("msg.oidc.this_sign_in_was"), true)
		return
	}
	action := core.ActionLogin
	if f.purpose == oidcPurposeLink {
		action = actionIdentityLink
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		desc := truncate(strings.Map(printableOnly, q.Get("error_description")), 200)
		s.core.Audit(s.requestActor(r), store.Event{Action: action, Outcome: outcomeFailure,
			Reason: reason + "provider answered " + truncate(strings.Map(printableOnly, e), 64) + " " + desc})
		msg := fmt.Sprintf("%s did not sign you in (%s).", p.DisplayName, truncate(strings.Map(printableOnly, e), 64))
		s.oidcFail(w, r, p, f, http.StatusUnauthorized, "Sign-in cancelled", msg)
		return
	}
	id, err := p.identify(r.Context(), f, q.Get("code"))
	if errors.Is(err, errPartialIdentity) {
		s.log.Warn("oidc: userinfo lookup failed; using the ID token's claims", "provider", p.Name, "error", err)
		err = nil
	}
	if err != nil {
		s.log.Error("oidc: sign-in answer refused", "provider", p.Name, "error", err)
		s.core.Audit(s.requestActor(r), store.Event{Action: action, Outcome: outcomeFailure, Reason: truncate(reason+err.Error(), 300)})
		l := s.pages.lang(r.Header, nil)
		status, title := http.StatusUnauthorized, l.S("msg.ownerlogin.sign_in_failed")
		msg := l.S("msg.oidc.answer_not_verified", "Provider", p.DisplayName)
		if errors.Is(err, errOIDCUnavailable) {
			status, title = http.StatusServiceUnavailable, l.S("msg.oidc.sign_in_unavailable")
			msg = l.S("msg.oidc.sign_in_unavailable_text", "Provider", p.DisplayName)
		}
		s.oidcFail(w, r, p, f, status, title, msg)
		return
	}
	attemptSucceeded(r.Context()) // the provider vouched for the answer
	if f.purpose == oidcPurposeLink {
		s.accountUI().finishOIDCLink(w, r, p, f, id)
		return
	}
	s.finishOIDCLogin(w, r, p, f, id)
}

func printableOnly(r rune) rune {
	if core.IsControl(r) {
		return -1
	}
	return r
}

// Linking from the profile.

// oidcContinuePage sends the browser on to the provider after the
// profile's "Link" form (a 303 to another origin would break the CSP
// form-action directive, see continue.go).
var oidcContinuePage = template.Must(template.New("oidc-continue").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url={{.URL}}">
<title>Continue to {{.Provider}} · Gatehouse</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
</head>
<body class="is-signed-out">
<main id="main" class="main-auth">
<section class="card card-auth">
<h1>Continue to {{.Provider}}</h1>
<p class="lede">Taking you to <a href="{{.URL}}">{{.Provider}}</a> to link your account…</p>
</section>
</main>
</body>
</html>
`))

// Page helpers: the login page's buttons and the profile's "Linked
// accounts" card. They are template functions (declared in pageFuncs)
// bound to the Service by bindOIDCPages.

// oidcButton is one "Sign in with …" button.
type oidcButton struct{ Name, DisplayName string }

// oidcButtons lists the configured providers, in configuration order.
func (s signInUI) oidcButtons() []oidcButton {
	out := make([]oidcButton, 0, len(s.oidc))
	for _, p := range s.oidc {
		out = append(out, oidcButton{Name: p.Name, DisplayName: p.DisplayName})
	}
	return out
}

// linkedAccounts fills the profile's "Linked accounts" card.
type linkedAccounts struct {
	Links []IdentityView
	// Available lists the providers the user has no link with yet.
	Available []oidcButton
}

// linkedAccountsOf returns the card of the user called username, or nil
// when there is nothing to show (no provider configured, no link).
func (s signInUI) linkedAccountsOf(username string) (*linkedAccounts, error) {
	u, err := s.store.UserByUsername(username)
	if err != nil {
		return nil, fmt.Errorf("portal: linked accounts of %q: %w", username, err)
	}
	links, err := s.accountUI().identitiesOf(u)
	if err != nil {
		return nil, err
	}
	la := &linkedAccounts{Links: links}
	for _, b := range s.oidcButtons() {
		if !slices.ContainsFunc(links, func(l IdentityView) bool { return l.Provider == b.Name }) {
			la.Available = append(la.Available, b)
		}
	}
	if len(la.Links) == 0 && len(la.Available) == 0 {
		return nil, nil
	}
	return la, nil
}

// bindOIDCPages points the page templates' OIDC helpers at s.
func (s signInUI) bindOIDCPages() {
	s.pages.funcs(template.FuncMap{"oidcProviders": s.oidcButtons, "linkedAccounts": s.linkedAccountsOf})
}
