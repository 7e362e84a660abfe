package portal

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions recorded by this package.
const (
	actionLogin      = "login"
	actionLogout     = "logout"
	actionUserCreate = "user.create"
	actionSetup      = "setup"
)

// Audit outcomes.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// audit records e in the store's audit log and in the operational log. r,
// when not nil, supplies the client IP and user agent, and, when it comes
// with an impersonation session whose target is e.Actor, the impersonator
// (e.Impersonator). A failure to record is logged, never returned: the
// action itself already happened.
func (s *Service) audit(r *http.Request, e store.Event) {
	if r != nil {
		e.IP = s.clientIP(r)
		e.UserAgent = truncate(r.UserAgent(), 256)
		if e.Impersonator == "" {
			e.Impersonator = notedImpersonator(r, e.Actor)
		}
		if e.Impersonator == "" {
			if by, as := s.impersonationOf(r); by != "" && strings.EqualFold(as, e.Actor) {
				e.Impersonator = by
			}
		}
	}
	// Escape control characters: an attempted username or a user agent
	// must not be able to start a line that reads as another event in a
	// text export or a terminal.
	for _, f := range []*string{&e.Actor, &e.Impersonator, &e.Resource, &e.Reason, &e.UserAgent} {
		*f = escapeControls(*f)
	}
	e.Actor = truncate(e.Actor, 64)
	if err := s.store.AppendAudit(&e); err != nil {
		s.log.Error("audit: append failed", "action", e.Action, "error", err)
	}
	s.log.Info("audit", "action", e.Action, "actor", e.Actor, "impersonator", e.Impersonator, "resource", e.Resource,
		"outcome", e.Outcome, "reason", e.Reason, "ip", e.IP)
}

// escapeControls writes the control characters of s (newlines, escape
// sequences, DEL, …) as Go escapes — a newline becomes a backslash and an
// n — and keeps the rest.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
