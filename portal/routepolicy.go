package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Route policies. The route table (routes.go, routes_pages.go,
// impersonation.go) declares, beside each route, what it is held to; the
// wrappers below both enforce the policy and record it in the table, and
// TestRoutePolicies (routes_test.go) walks the table:
//
//   - ownCredential: the route changes how the caller's own account proves
//     itself (password, second factors, passkeys, backup codes, linked
//     identities, API keys). Only the person, from an interactive session:
//     never an API key, never an impersonation session.
//   - freshCredential: ownCredential, and the request must also be freshly
//     proven (see freshProof).
//   - adminCredential: an administrator sets another user's password or
//     second factors, or makes them a reset link or temporary password.
//     Never on the caller's own account (403 naming the self-service
//     route), never with an API key, never while impersonating.
//   - serviceCredential: the route makes or removes a standing credential
//     of the installation rather than of a person (the directory server's
//     bind clients). Never with an API key, never while impersonating.
//   - notCredential: the path looks like a credential route (it is under
//     /me/ or /profile/, or names passwords or keys) but the route changes
//     no credential; declared so that the test knows it was looked at.
//
// Routes that check a secret without a session are wrapped by s.throttled
// as before; the test checks that every route that answers without a
// session is.

// policy is the set of rules a route is declared with.
type policy uint8

const (
	policyOwnCredential policy = 1 << iota
	policyFresh
	policyAdminCredential
	policyNotCredential
	policyServiceCredential
)

// route is one entry of the route table.
type route struct {
	pattern string
	policy  policy
	// bodyLimit bounds the request body (maxBodyBytes unless the route
	// declares more with s.bodyLimit).
	bodyLimit int64
	// access is who may call the route (routeaccess.go): accessPublic,
	// accessSignedIn, accessOwn or a permission; "" when undeclared.
	access string
	// handler is what the route runs behind its policy wrapper (the
	// handler itself for unclassified routes).
	handler http.HandlerFunc
}

// routeMux is an http.ServeMux that keeps the route table.
type routeMux struct {
	*http.ServeMux
	table []route
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// HandleFunc registers an unclassified route.
func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Handle registers a route; a handler made by s.bodyLimit or by one of the
// policy and access wrappers records its declarations in the table. Every
// route's request body is bounded by its limit.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	rt := route{pattern: pattern, bodyLimit: maxBodyBytes}
	if l, ok := h.(limited); ok {
		rt.bodyLimit, h = l.limit, l.next
	}
	switch p := h.(type) {
	case policed:
		rt.policy, rt.access, rt.handler = p.policy, p.access, p.inner
	case http.HandlerFunc:
		rt.handler = p
	}
	m.table = append(m.table, rt)
	limit := rt.bodyLimit
	m.ServeMux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	}))
}

// limited is a handler with a body limit of its own.
type limited struct {
	limit int64
	next  http.Handler
}

func (l limited) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.next.ServeHTTP(w, r) }

// bodyLimit declares that h's route takes request bodies of up to limit
// bytes instead of maxBodyBytes.
func (s *Service) bodyLimit(limit int64, h http.Handler) limited {
	return limited{limit: limit, next: h}
}

// policed is a handler behind a route policy and an access rule.
type policed struct {
	policy policy
	access string
	inner  http.HandlerFunc
	serve  http.HandlerFunc
	svc    *Service
	// refuse checks the route policy (nil for none).
	refuse func(w http.ResponseWriter, r *http.Request) bool
}

func (p policed) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.serve(w, r) }

// ownCredential declares and enforces that h changes the caller's own
// credentials: no API key, no impersonation.
func (s *Service) ownCredential(h http.HandlerFunc) policed {
	return s.policed(policyOwnCredential, "", h)
}

// freshCredential is ownCredential plus a fresh proof (freshProof).
func (s *Service) freshCredential(h http.HandlerFunc) policed {
	return s.policed(policyOwnCredential|policyFresh, "", h)
}

// adminCredential declares and enforces that h changes the credentials of
// the user named by the {user} path value on behalf of an administrator:
// never the caller's own account (self says what to use instead), no API
// key, no impersonation.
func (s *Service) adminCredential(self string, h http.HandlerFunc) policed {
	return s.policed(policyAdminCredential, self, h)
}

// serviceCredential declares and enforces that h makes or removes a
// credential of the installation (a directory server bind client): no API
// key, no impersonation.
func (s *Service) serviceCredential(h http.HandlerFunc) policed {
	return s.policed(policyServiceCredential, "", h)
}

// notCredential declares a route whose path looks like a credential route
// but which changes no credential. It enforces nothing.
func (s *Service) notCredential(h http.HandlerFunc) policed {
	return policed{policy: policyNotCredential, inner: h, serve: h, svc: s}
}

func (s *Service) policed(pol policy, self string, h http.HandlerFunc) policed {
	refuse := func(w http.ResponseWriter, r *http.Request) bool { return s.refuseByPolicy(w, r, pol, self) }
	return policed{policy: pol, inner: h, svc: s, refuse: refuse, serve: func(w http.ResponseWriter, r *http.Request) {
		if refuse(w, r) {
			return
		}
		h(w, r)
	}}
}

// refuseByPolicy answers, and returns true, when the request breaks the
// route's policy. A request nobody signed in for passes: the handler
// answers it (401, or the login page).
func (s *Service) refuseByPolicy(w http.ResponseWriter, r *http.Request, pol policy, self string) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	c, res := s.callerOf(r)
	if res != resolvedOK {
		return false
	}
	refuse := func(title, msg, page string) bool {
		s.core.Audit(s.requestActor(r), store.Event{Actor: c.User.Username, Impersonator: c.Session.ImpersonatorName, Action: core.ActionCredentialRefused,
			Resource: r.Method + " " + r.URL.Path, Outcome: outcomeFailure, Reason: msg})
		if isAPI(r) {
			writeJSONError(w, http.StatusForbidden, msg)
			return true
		}
		s.pageError(w, r, c, http.StatusForbidden, title, page)
		return true
	}
	switch {
	case pol&policyServiceCredential != 0 && c.Key != nil:
		return refuse(s.pages.lang(r.Header, nil).S("msg.routepolicy.not_with_an_api"), "API keys cannot make or remove LDAP clients: sign in to the portal to do this",
			"API keys cannot do this.")
	case pol&policyServiceCredential != 0 && c.Impersonating():
		return refuse(s.pages.lang(r.Header, nil).S("msg.emailconfirm.not_while_impersonating"), core.ErrImpersonating.Error()+": LDAP clients cannot be made or removed while impersonating; stop impersonating first",
			"You are acting as "+c.User.Username+": LDAP clients cannot be made or removed now. Stop impersonating first.")
	case c.Key != nil:
		return refuse(s.pages.lang(r.Header, nil).S("msg.routepolicy.not_with_an_api"), "API keys cannot change passwords, second factors or keys: sign in to the portal to do this",
			"API keys cannot do this.")
	case c.Impersonating():
		return refuse(s.pages.lang(r.Header, nil).S("msg.emailconfirm.not_while_impersonating"), core.ErrImpersonating.Error()+": passwords, second factors and keys cannot be changed by someone acting as their owner; stop impersonating first",
			"You are acting as "+c.User.Username+": their password, second factors and keys cannot be changed now. Stop impersonating first.")
	}
	if pol&policyAdminCredential != 0 {
		if u, err := s.core.Users.FindUser(r.PathValue("user")); err == nil && u.ID == c.User.ID {
			return refuse(s.pages.lang(r.Header, nil).S("msg.routepolicy.your_own_account"), "this is your own account: "+self,
				s.pages.lang(r.Header, nil).S("msg.routepolicy.this_is_your_own"))
		}
	}
	if pol&policyFresh != 0 {
		if !isAPI(r) && (parsePageForm(r) != nil || !s.csrfValid(c, r.PostFormValue("csrf"))) {
			return false // the page wrapper refuses it, before anything is checked
		}
		pw, code, err := proofOf(r)
		if err == nil {
			err = s.core.Auth.FreshProof(r.Context(), c, pw, code)
		}
		if err != nil {
			s.core.Audit(s.requestActor(r), store.Event{Actor: c.User.Username, Action: core.ActionCredentialRefused,
				Resource: r.Method + " " + r.URL.Path, Outcome: outcomeFailure, Reason: err.Error()})
			if !errors.Is(err, core.ErrNotFresh) && !errors.Is(err, core.ErrBadProof) {
				// A malformed field, a busy hasher.
				if isAPI(r) {
					s.writeAPIError(w, err)
				} else {
					status, msg := s.statusOf(err)
					s.pageError(w, r, c, status, http.StatusText(status), sentence(msg))
				}
				return true
			}
			if isAPI(r) {
				writeJSONError(w, http.StatusForbidden, err.Error())
			} else {
				msg := s.pages.lang(r.Header, nil).S("msg.routepolicy.confirm_your_current_password")
				if c.User.PasswordHash == "" {
					msg = "Confirm it is you: sign in again, then make this change within " + strconv.Itoa(int(core.FreshWindow.Minutes())) + " minutes."
				}
				if errors.Is(err, core.ErrBadProof) {
					msg = s.pages.lang(r.Header, nil).S("msg.routepolicy.confirm_your_current_password_2")
				}
				s.accountUI().renderProfile(w, r, c, http.StatusForbidden, msg, nil)
			}
			return true
		}
	}
	return false
}

// Fresh proof. A factor change (TOTP, backup codes, passkeys and security
// keys, linked identities, API keys) is freshly proven when the request
// carries the caller's current password (current_password) or a current
// code of their authenticator app (code), or, carrying neither, when the
// session signed in less than core.FreshWindow ago — which is how an account
// without a password (passkeys only) proves itself: it signs in again.
// A wrong password or code counts as a failed sign-in for the lockout.
// (The password change itself checks current_password in
// changeOwnPassword.)

// proofOf reads current_password and code from a page form or a JSON
// body; the JSON body is given back to the handler without them.
func proofOf(r *http.Request) (pw, code string, err error) {
	if !isAPI(r) {
		return r.PostFormValue("current_password"), "", nil
	}
	if r.Body == nil {
		return "", "", nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", &bodyTooLargeError{limit: mbe.Limit}
		}
		return "", "", inputErr("", "the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	var fields map[string]json.RawMessage
	if len(bytes.TrimSpace(b)) == 0 || json.Unmarshal(b, &fields) != nil {
		return "", "", nil
	}
	for name, dst := range map[string]*string{"current_password": &pw, "code": &code} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		if json.Unmarshal(raw, dst) != nil {
			return "", "", inputErr(name, "must be a string")
		}
		delete(fields, name)
	}
	if rest, err := json.Marshal(fields); err == nil && (pw != "" || code != "") {
		r.Body = io.NopCloser(bytes.NewReader(rest))
		r.ContentLength = int64(len(rest))
	}
	return pw, code, nil
}

// The real actor of a request, captured before the action runs: callerOf
// notes an impersonation in the request's actorNote, so that an audit event
// written after the action ended the impersonation session (a password
// change ends every session of the account) still names the impersonator.

type actorNoteKey struct{}

// actorNote is who acts in a request when it is an impersonation.
type actorNote struct {
	impersonator, target string
}

// withActorNote gives every request an empty actorNote.
func (s *Service) withActorNote(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorNoteKey{}, &actorNote{})))
	})
}
