package core

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Audit records e in the store's audit log and in the operational log,
// with the client address, user agent and impersonator of the actor a (nil
// for an event with no client, such as a start-up duty). A failure to
// record is logged, never returned: the action itself already happened.
func (c *Core) Audit(a *Actor, e store.Event) {
	if a != nil {
		e.IP = a.IP
		e.UserAgent = truncate(a.UserAgent, 256)
		e.Via = string(a.Via)
		if e.Impersonator == "" {
			e.Impersonator = a.impersonatorOf(e.Actor)
		}
	}
	// Escape control characters: an attempted username or a user agent
	// must not be able to start a line that reads as another event in a
	// text export or a terminal.
	for _, f := range []*string{&e.Actor, &e.Impersonator, &e.Resource, &e.Reason, &e.UserAgent} {
		*f = escapeControls(*f)
	}
	e.Actor = truncate(e.Actor, 64)
	if err := c.store.AppendAudit(&e); err != nil {
		c.log.Error("audit: append failed", "action", e.Action, "error", err)
	}
	c.log.Info("audit", "action", e.Action, "actor", e.Actor, "impersonator", e.Impersonator, "resource", e.Resource,
		"outcome", e.Outcome, "reason", e.Reason, "ip", e.IP, "via", e.Via)
}

// ListAudit returns one page of audit events, newest first.
func (c *Core) ListAudit(f store.AuditFilter, after string, limit int) ([]*store.Event, string, error) {
	evs, next, err := c.store.ListAudit(f, after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("core: list audit: %w", err)
	}
	if evs == nil {
		evs = []*store.Event{}
	}
	return evs, next, nil
}

// PruneAudit drops events older than the retention setting.
func (c *Core) PruneAudit() {
	before := c.now().Add(-time.Duration(c.Settings().AuditRetention))
	if n, err := c.store.PruneAudit(before); err != nil {
		c.log.Error("prune audit log", "error", err)
	} else if n > 0 {
		c.log.Info("pruned audit log", "events", n, "before", before.Format(time.RFC3339))
	}
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

// Truncate cuts s to at most n bytes.
func Truncate(s string, n int) string { return truncate(s, n) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Audit actions recorded by this package.
const (
	ActionLogin      = "login"
	ActionLogout     = "logout"
	ActionUserCreate = "user.create"
	ActionSetup      = "setup"
)

// actorName is the name the audit log gives a: its user's, or "" for
// nobody.
func actorName(a *Actor) string {
	if a == nil || a.User == nil {
		return ""
	}
	return a.User.Username
}
