package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

// Consent to third-party OpenID Connect apps, and the user's connected
// apps (core/oidcconsents.go).

// oidcConsentUI is the handlers of the consent page and of the connected
// apps (profile page and API); it shares the Service.
type oidcConsentUI struct{ *Service }

// consentData is the content of the consent page.
type consentData struct {
	ID, App, AppTitle, AppURL string
	// Scopes are the requested scopes in plain words.
	Scopes []string
	// Host is the host of the redirect URI the app gets its answer at.
	Host string
}

// askConsent shows the consent page when app is third-party and the user
// has not yet allowed it every scope of the pending request id; it reports
// whether it answered.
func (s signInUI) askConsent(w http.ResponseWriter, r *http.Request, p *oidcprovider.Provider, id string, app *core.App, userID string) bool {
	req, err := p.PendingDetails(id)
	if err != nil {
		return false // Complete fails and says so
	}
	need, err := s.core.Access.ConsentNeeded(userID, app, req.Scopes)
	if c := app.OIDC(); err == nil && c != nil && c.Consent && slices.Contains(req.Prompt, "consent") {
		need = true // the app asks to ask again
	}
	if err != nil {
		s.log.Error("oidc consent", "app", app.Name, "error", err)
		s.renderError(w, r, http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("msg.oidcconsent.try_again"), s.pages.lang(r.Header, nil).S("msg.oidcconsent.the_sign_in_service"), nil)
		return true
	}
	if !need {
		return false
	}
	if slices.Contains(req.Prompt, "none") {
		if to, err := p.ConsentRequired(id); err == nil {
			http.Redirect(w, r, to, http.StatusFound)
			return true
		}
		return false
	}
	c, res := s.callerOf(r)
	if res != resolvedOK {
		s.WriteRefusal(w, r, Verdict{Outcome: SignIn}, s.portal.String()+oidcprovider.ContinuePath+"?id="+url.QueryEscape(id))
		return true
	}
	pg := s.basePage(w, r, c, s.pages.tr(c, "oidc_consent.allow", "AppTitle", app.Title), "")
	d := consentData{ID: id, App: app.Name, AppTitle: app.Title, AppURL: app.URL}
	for _, w := range core.ScopeWords(req.Scopes) {
		if strings.HasPrefix(w, "your ") {
			w = "read " + w
		}
		d.Scopes = append(d.Scopes, w)
	}
	if u, err := url.Parse(req.RedirectURI); err == nil {
		d.Host = u.Host
	}
	pg.Data = d
	// The form's answer ends in a redirect to the app (Deny directly, Allow
	// through /oidc/continue): browsers hold the redirect chain of a form
	// to form-action, so the redirect URI's origin is allowed too.
	s.render(&cspWriter{ResponseWriter: w, formAction: formSource(req.RedirectURI)}, r, http.StatusOK, "oidc_consent", pg)
	return true
}

// formSource is the CSP source of a redirect URI: its origin, or its
// scheme for a native app's private-use scheme.
func formSource(raw string) string {
	u, err := url.Parse(raw)
	src := ""
	switch {
	case err != nil:
		return ""
	case u.Scheme == "http" || u.Scheme == "https":
		src = u.Scheme + "://" + u.Host
	case u.Scheme != "":
		src = u.Scheme + ":"
	}
	if strings.ContainsAny(src, " \t\r\n;,'\"*") {
		return "" // never a policy's syntax, whatever was registered
	}
	return src
}

// cspWriter widens the page's form-action to formAction.
type cspWriter struct {
	http.ResponseWriter
	formAction string
}

func (c *cspWriter) WriteHeader(status int) {
	if c.formAction != "" {
		h := c.Header()
		h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "form-action 'self'", "form-action 'self' "+c.formAction, 1))
	}
	c.ResponseWriter.WriteHeader(status)
}

// handleConsent takes the consent page's answer: Allow records the
// consent and goes back to /oidc/continue (which checks the app's rules
// again and completes the request); Deny sends the app access_denied.
func (s oidcConsentUI) handleConsent(w http.ResponseWriter, r *http.Request, c *caller) {
	p := s.op.Load()
	id := r.PostForm.Get("id")
	var app *core.App
	var req oidcprovider.PendingRequest
	var err error
	if p != nil {
		if app, err = p.Pending(id); err == nil {
			req, err = p.PendingDetails(id)
		}
	}
	if p == nil {
		err = core.ErrNotFound
	}
	if err != nil {
		s.signInUI().requestUnusable(w, r, err, s.pages.tr(c, "msg.oidcconsent.this_sign_in_request"))
		return
	}
	if c.Impersonating() {
		s.renderError(w, r, http.StatusForbidden, s.pages.tr(c, "msg.emailconfirm.not_while_impersonating"),
			s.pages.tr(c, "msg.oidcconsent.apps_that_sign_in"), nil)
		return
	}
	a := *c
	a.Via = core.ViaOIDC
	switch r.PostForm.Get("decision") {
	case "allow":
		if acct, err := s.store.Account(c.User.ID); err != nil || !s.core.Access.Admits(app, &acct) {
			// Only someone the app admits is asked; /oidc/continue says why not.
			http.Redirect(w, r, s.portal.String()+oidcprovider.ContinuePath+"?id="+url.QueryEscape(id), http.StatusSeeOther)
			return
		}
		if err := s.core.Access.GrantConsent(&a, app.Name, req.Scopes); err != nil {
			s.pageFail(w, r, c, err)
			return
		}
		http.Redirect(w, r, s.portal.String()+oidcprovider.ContinuePath+"?id="+url.QueryEscape(id), http.StatusSeeOther)
	case "deny":
		to, err := p.Deny(id)
		if err != nil {
			s.signInUI().requestUnusable(w, r, err, s.pages.tr(c, "msg.oidcconsent.this_sign_in_request"))
			return
		}
		s.core.Access.DenyConsent(&a, app.Name, req.Scopes)
		http.Redirect(w, r, to, http.StatusSeeOther)
	default:
		s.pageError(w, r, c, http.StatusBadRequest, s.pages.tr(c, "error.bad_request"), s.pages.tr(c, "msg.oidcconsent.choose_allow_or_deny"))
	}
}

// revokeConnected revokes the caller's connected app: the consent and
// refresh tokens, then its access tokens (all in the store).
func (s oidcConsentUI) revokeConnected(c *caller, app string) error {
	if err := s.core.Access.RevokeConnectedApp(c, app); err != nil {
		return err
	}
	if p := s.op.Load(); p != nil {
		return p.RevokeAccess(c.User.ID, app)
	}
	return nil
}

// handleProfileRevoke revokes a connected app from the profile page.
func (s oidcConsentUI) handleProfileRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeConnected(c, r.PathValue("app")); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.oidcconsent.the_app_is_disconnected"))
}

func (s oidcConsentUI) apiMyConnectedApps(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Access.ConnectedApps(c)
		return http.StatusOK, list[core.ConnectedAppView]{Items: items}, err
	})
}

func (s oidcConsentUI) apiRevokeConnectedApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.revokeConnected(c, r.PathValue("app"))
	})
}
