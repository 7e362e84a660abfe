package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// caller is who makes a portal request (core.Actor): the signed-in user,
// the session or key they came with and the permissions of their role,
// resolved afresh on every request so that a role change takes effect on
// the next one.
type caller = core.Actor

// callerOf resolves the request's session, or, for an API request
// without one, its bearer key. It returns nil with resolvedNone when
// nobody is signed in.
func (s *Service) callerOf(r *http.Request) (*caller, resolution) {
	now := s.now()
	si, res := s.resolve(r.Header, now)
	if res == resolvedNone && isAPI(r) {
		if k := bearerKey(r.Header); k != "" {
			c := s.clientActor(r)
			key, u, err := s.core.Credentials.CheckKey(c, k, now)
			if err != nil {
				return nil, resolvedNone
			}
			c.User, c.Key, c.Credential = u, &key, core.CredKey
			c.Perms, _ = s.core.PermsOf(u.Role)
			return c, resolvedOK
		}
	}
	if res != resolvedOK {
		return nil, res
	}
	// Portal requests get the whole session record (one read); the
	// guard's requests never come here.
	sess, err := s.store.Session(si.id)
	if err != nil {
		_, res := lookupFailed(err)
		return nil, res
	}
	u, res := s.wholeUser(si, now)
	if res != resolvedOK {
		return nil, res
	}
	c := s.signedInAs(s.clientActor(r), u, si.id, sess)
	// Note the real actor before the action runs: an audit event written
	// after the action ended the impersonation session (a password change
	// ends every session of the account) still names the impersonator.
	if n, ok := r.Context().Value(actorNoteKey{}).(*actorNote); ok && c.Impersonating() && n.impersonator == "" {
		n.impersonator, n.target = c.Session.ImpersonatorName, c.User.Username
	}
	return c, resolvedOK
}

// apiCaller returns the signed-in caller of an API request, or writes 401
// (or 503) and returns nil.
func (s *Service) apiCaller(w http.ResponseWriter, r *http.Request) *caller {
	c, res := s.callerOf(r)
	switch res {
	case resolvedUnavailable:
		writeJSONError(w, http.StatusServiceUnavailable, "the sign-in service is unavailable")
		return nil
	case resolvedNone:
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return nil
	}
	if s.core.PasswordExpired(c.User.PasswordChangedAt) {
		writeJSONError(w, http.StatusForbidden, "your password has expired: change it with POST /api/v1/me/password")
		return nil
	}
	if err := keyAllows(c, r.Method, r.URL.Path); err != nil {
		writeJSONError(w, http.StatusForbidden, strings.TrimPrefix(err.Error(), "forbidden: "))
		return nil
	}
	return c
}

// apiRequire is apiCaller plus a permission check: 403 when the caller's
// role lacks perm. The route table's s.api(perm, h) calls it before h.
func (s *Service) apiRequire(w http.ResponseWriter, r *http.Request, perm policies.Permission) *caller {
	c := s.apiCaller(w, r)
	if c == nil {
		return nil
	}
	if !c.Can(perm) {
		writeJSONError(w, http.StatusForbidden, "this needs the "+string(perm)+" permission")
		return nil
	}
	return c
}

// Errors the service methods return, mapped to statuses by statusOf.
var (
	// ErrNotFound: no such user, group, role, app, session or link (404).
	ErrNotFound = core.ErrNotFound
	// ErrForbidden: the caller may not do this (403).
	ErrForbidden = core.ErrForbidden
	// ErrConflict: the username or email address is taken (409).
	ErrConflict = core.ErrConflict
	// ErrBusy: too many password checks are queued, or the lockout could
	// not be read or written; try again (503).
	ErrBusy = core.ErrBusy
	// ErrTooMany: one change would rewrite more records than the store
	// takes at once (409).
	ErrTooMany = core.ErrTooMany
)

// InputError is bad input, safe to show to the client (400).
type InputError = core.InputError

// inputErr returns an *InputError about field.
func inputErr(field, format string, args ...any) error { return core.Input(field, format, args...) }

// statusOf maps a service error to its HTTP status and the message safe to
// show; unexpected errors are logged and shown as "internal error".
func (s *Service) statusOf(err error) (int, string) {
	var ie *InputError
	var tl *bodyTooLargeError
	switch {
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge, tl.Error()
	case errors.As(err, &ie):
		if s.pages != nil {
			s.pages.msgs.note(ie.Error(), ie)
		}
		return http.StatusBadRequest, ie.Error()
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, s.pages.notePlain(err)
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, s.pages.notePlain(err)
	case errors.Is(err, ErrConflict), errors.Is(err, ErrTooMany):
		return http.StatusConflict, s.pages.notePlain(err)
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, s.pages.notePlain(ErrBusy)
	case errors.Is(err, core.ErrDirectoryUnavailable):
		return http.StatusServiceUnavailable, s.pages.notePlain(core.ErrDirectoryUnavailable)
	}
	if be := (*core.BackupError)(nil); errors.As(err, &be) {
		s.log.Error("backup failed", "error", err)
		return http.StatusInternalServerError, be.Error()
	}
	s.log.Error("portal request failed", "error", err)
	return http.StatusInternalServerError, internalErrorMsg
}

// ErrorStatus is the one table from a service error to its HTTP status and
// the message safe to show, for every surface: the portal's API and pages,
// and Caddy's admin API (the CLI). Unexpected errors are logged and shown
// as "internal error".
func (s *Service) ErrorStatus(err error) (status int, message string) { return s.statusOf(err) }

// plainMessage is err's message without the names of the sentinel errors
// it wraps, which mean something to code, not to people: "forbidden: only
// owners can …" reads "only owners can …", `the username "bob" is already
// taken: already exists` reads `the username "bob" is already taken`.
func plainMessage(err error) string {
	msg := err.Error()
	if msg == ErrConflict.Error() || msg == ErrNotFound.Error() || msg == ErrForbidden.Error() {
		return msg
	}
	msg = strings.TrimPrefix(msg, ErrForbidden.Error()+": ")
	msg = strings.TrimSuffix(msg, ": "+ErrConflict.Error())
	if m, ok := strings.CutSuffix(msg, ": "+ErrNotFound.Error()); ok {
		msg = m + " was not found"
	}
	return msg
}

// writeAPIError answers an API request with the status and message of err,
// and the field a 400 is about.
func (s *Service) writeAPIError(w http.ResponseWriter, err error) {
	status, msg := s.statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	var ie *InputError
	if status == http.StatusBadRequest && errors.As(err, &ie) && ie.Field != "" {
		writeJSON(w, status, map[string]string{"error": msg, "field": ie.Field})
		return
	}
	writeJSONError(w, status, msg)
}

// CLIActor is the actor of a request to Caddy's admin API (the CLI): the
// local administrator, from the client address ip.
func (s *Service) CLIActor(ip, userAgent string) *core.Actor {
	a := s.localAdmin()
	a.IP, a.UserAgent = ip, userAgent
	return a
}

// localAdmin is the caller of the CLI: whoever can reach Caddy's admin
// endpoint (localhost by default) already controls the server, so it acts
// as an owner. It is named "cli" in the audit log.
func (s *Service) localAdmin() *caller {
	perms, _ := policies.RolePermissions(policies.RoleOwner)
	return &caller{User: &store.User{Username: "cli", Role: policies.RoleOwner}, Perms: perms}
}
