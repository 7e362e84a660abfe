package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit outcomes.
const (
	outcomeSuccess = core.OutcomeSuccess
	outcomeFailure = core.OutcomeFailure
)

// requestActor is the actor of r for the audit log: its client address and
// user agent, and the impersonation its session cookie names.
func (s *Service) requestActor(r *http.Request) *caller {
	if r == nil {
		return nil
	}
	a := s.clientActor(r)
	if n, ok := r.Context().Value(actorNoteKey{}).(*actorNote); ok && n.impersonator != "" {
		a.Impersonator, a.Impersonated = n.impersonator, n.target
	} else if by, as := s.usersUI().impersonationOf(r); by != "" {
		a.Impersonator, a.Impersonated = by, as
	}
	return a
}

// clientActor is the anonymous actor of r: its surface, client address and
// user agent.
func (s *Service) clientActor(r *http.Request) *caller {
	a := &caller{IP: s.clientIP(r), UserAgent: r.UserAgent(), Via: core.ViaPortal, Devices: s.deviceEntries(r),
		AcceptLanguage: r.Header.Get("Accept-Language")}
	if isAPI(r) {
		a.Via = core.ViaAPI
	}
	return a
}

// signedInAs makes the anonymous actor a the user u, come with the
// session id.
func (s *Service) signedInAs(a *caller, u *store.User, id store.SessionID, sess store.Session) *caller {
	a.User, a.SessionID, a.Session, a.Credential = u, id, sess, core.CredSession
	a.Perms, _ = s.core.PermsOf(u.Role)
	if sess.ImpersonatorName != "" {
		a.Impersonator, a.Impersonated = sess.ImpersonatorName, u.Username
	}
	return a
}
