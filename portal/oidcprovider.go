package portal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
	"github.com/gatehouse-auth/gatehouse/store"
)

// startOIDCProvider builds the OpenID Connect provider when an app is one
// of its clients (its first start makes the signing key): at Start for
// the Caddyfile's clients, else at the first request to one of its paths
// after an app made in the portal became one.
func startOIDCProvider(s *Service) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.op.Load() != nil {
		return nil
	}
	clients := false
	for _, a := range s.core.Access.Apps() {
		clients = clients || a.OIDC() != nil
	}
	if !clients {
		return nil
	}
	p, err := oidcprovider.New(s.core, oidcprovider.Config{
		ClientAuthenticated: attemptSucceeded,
		Issuer:              s.portal,
		ClientIP:            s.clientIP,
		Algorithm:           s.opKeys.alg,
		KeyRotation:         s.opKeys.rotation,
		Assertions:          s.assertions,
		Logger:              s.log.With("component", "oidc"),
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
			s.renderError(w, r, status, title, msg, nil)
		},
	})
	if err != nil {
		return err
	}
	s.op.Store(p)
	return nil
}

// serveOIDCProvider serves the provider's paths; it reports false for any
// other path, or when the provider is off.
func serveOIDCProvider(s *Service, w http.ResponseWriter, r *http.Request) bool {
	if !oidcprovider.Handles(r.URL.Path) {
		return false
	}
	p := s.op.Load()
	if p == nil {
		if err := startOIDCProvider(s); err != nil {
			s.log.Error("cannot start the OpenID Connect provider", "error", err)
		}
		if p = s.op.Load(); p == nil {
			return false
		}
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", hstsValue)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if r.URL.Path == oidcprovider.EndSessionPath {
		serveOIDCEndSession(s, p, w, r)
		return true
	}
	if !oidcprovider.AuthenticatesClient(r.URL.Path) {
		p.ServeHTTP(w, r)
		return true
	}
	// A client secret is a secret like a password: wrong ones from one
	// address spend its client throttle's budget, right ones give it back
	// (the provider calls Config.ClientAuthenticated), so an app's server
	// refreshing all day is never slowed.
	ip := s.clientIP(r)
	key := throttleKey(ip)
	wait, first := s.clientThrottle.take(key, s.now())
	if wait > 0 {
		secs := max(int(math.Ceil(wait.Seconds())), 1)
		if first {
			s.log.Warn("too many failed client authentications from one address: throttled", "ip", ip, "path", r.URL.Path, "retry_after", secs)
		}
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = fmt.Fprintf(w, `{"error":"temporarily_unavailable","error_description":"too many failed attempts, try again in %d seconds"}`, secs)
		return true
	}
	p.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, s.clientThrottle.newAttempt(key, s.now))))
	return true
}

// requestUnusable answers a step of an app's sign-in whose auth request
// could not be used: gone (expired, used, unknown, its app deleted) is
// "Sign-in expired" with msg (400); a store that could not be read or
// written is the "unavailable" page (503), which a retry may cure.
func (s signInUI) requestUnusable(w http.ResponseWriter, r *http.Request, err error, msg string) {
	l := s.pages.lang(r.Header, nil)
	if !errors.Is(err, core.ErrNotFound) {
		s.log.Error("oidc: auth request", "error", err)
		s.renderError(w, r, http.StatusServiceUnavailable, l.S("error.unavailable.title"), l.S("error.unavailable"), nil)
		return
	}
	s.renderError(w, r, http.StatusBadRequest, l.S("error.sign_in_expired.title"), msg, nil)
}

// handleOIDCContinue is the interactive step of /authorize: the signed-in
// user (or, after they sign in, step up or change their password, the same
// URL again) is handed to the provider when the app admits them; a user
// the app does not admit gets the "No access" page and the app no code.
func (s signInUI) handleOIDCContinue(w http.ResponseWriter, r *http.Request) {
	p := s.op.Load()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	id := r.URL.Query().Get("id")
	app, err := p.Pending(id)
	var req oidcprovider.PendingRequest
	if err == nil {
		req, err = p.PendingDetails(id)
	}
	if err != nil {
		s.requestUnusable(w, r, err, s.pages.lang(r.Header, nil).S("msg.oidcconsent.this_sign_in_request"))
		return
	}
	// prompt=none: the app wants an answer without a page; where a page
	// would be shown, it gets an error at its redirect URI instead.
	none := req.Has("none")
	noPage := func(code string) {
		to, err := p.NoInteraction(id, code)
		if err != nil {
			s.requestUnusable(w, r, err, s.pages.lang(r.Header, nil).S("msg.oidcconsent.this_sign_in_request"))
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	}
	here := s.portal.String() + oidcprovider.ContinuePath + "?id=" + url.QueryEscape(id)
	now := s.now()
	si, res := s.resolve(r.Header, now)
	switch {
	case res == resolvedUnavailable:
		s.renderError(w, r, http.StatusServiceUnavailable, s.pages.lang(r.Header, nil).S("msg.oidcconsent.try_again"), s.pages.lang(r.Header, nil).S("msg.oidcconsent.the_sign_in_service"), nil)
		return
	case res == resolvedNone && none:
		noPage("login_required")
		return
	case res == resolvedNone:
		s.WriteRefusal(w, r, Verdict{Outcome: SignIn}, here)
		return
	case si.impersonator != "" && none:
		noPage("interaction_required")
		return
	case si.impersonator != "":
		s.renderError(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("msg.emailconfirm.not_while_impersonating"),
			s.pages.lang(r.Header, nil).S("msg.oidcconsent.apps_that_sign_in"), nil)
		return
	}
	v := s.core.Access.Decide(&si.acct, app, si.auth.SecondFactor)
	if v.Outcome != Allow {
		if v.Outcome == Deny {
			s.core.Audit(&core.Actor{Via: core.ViaOIDC, IP: s.clientIP(r), UserAgent: core.Truncate(r.UserAgent(), 256)},
				store.Event{Actor: si.acct.Username, Action: "oidc.refused", Resource: "app:" + app.Name,
					Outcome: core.OutcomeFailure, Reason: "the app does not admit the user"})
		}
		switch {
		case none && v.Outcome == Deny:
			noPage("access_denied")
		case none && v.Outcome == SignIn:
			noPage("login_required")
		case none:
			noPage("interaction_required")
		default:
			s.WriteRefusal(w, r, v, here)
		}
		return
	}
	sess, err := s.store.Session(si.id)
	if err != nil {
		s.WriteRefusal(w, r, Verdict{Outcome: SignIn}, here)
		return
	}
	// prompt=login wants a sign-in made after the request, max_age one
	// young enough: the sign-in page again, even though signed in.
	if req.NeedsSignIn(sess.CreatedAt, now) {
		if none {
			noPage("login_required")
			return
		}
		http.Redirect(w, r, "/login?reauth=1&rd="+url.QueryEscape(here), http.StatusFound)
		return
	}
	if s.askConsent(w, r, p, id, app, si.acct.ID) {
		return
	}
	if err := p.Complete(id, si.id, sess); err != nil {
		s.requestUnusable(w, r, err, s.pages.lang(r.Header, nil).S("msg.oidcconsent.this_sign_in_request"))
		return
	}
	http.Redirect(w, r, p.CallbackURL(id), http.StatusFound)
}
