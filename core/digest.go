package core

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The security digest: an administrator who asks for it (MailPrefsInput
// Digest, "daily" or "weekly"; it needs the audit.read permission) gets a
// summary of the period's failed sign-ins, lockouts and new administrators,
// counted from the audit log, through the same queue as the notices.

// digestPeriods are the digest choices.
var digestPeriods = map[string]time.Duration{"daily": 24 * time.Hour, "weekly": 7 * 24 * time.Hour}

// digestMaxEvents bounds the audit events one digest reads.
const digestMaxEvents = 20000

// sendDigests queues the digests that are due.
func (c *Core) sendDigests() {
	now := c.now()
	err := c.store.MailQueue().EachPrefs(func(uid string, p store.MailPrefs) {
		period, ok := digestPeriods[p.Digest]
		if !ok || now.Sub(p.DigestSentAt) < period {
			return
		}
		u, err := c.store.User(uid)
		if err != nil || u.Email == "" || !UserActive(u, now) {
			return
		}
		if perms, _ := c.PermsOf(u.Role); !perms.Has(policies.PermAuditRead) {
			return
		}
		since := now.Add(-period)
		if p.DigestSentAt.After(since) {
			since = p.DigestSentAt
		}
		text, err := c.digestText(u, p, since, now)
		if err != nil {
			c.log.Error("security digest", "user", u.Username, "error", err)
			return
		}
		// Marked sent first: a failure to mark must not mail it every tick.
		// The mark is claimed: of several nodes sharing a database, the
		// one that finds the digest due first sends it.
		if claimed, err := c.store.MailQueue().ClaimDigest(uid, p.DigestSentAt, now); err != nil || !claimed {
			if err != nil {
				c.log.Error("security digest: mark sent", "user", u.Username, "error", err)
			}
			return
		}
		if err := c.store.MailQueue().Put(&store.QueuedMail{Kind: "digest", To: u.Email,
			Subject: c.LangOf(u).S("mail.digest.subject." + p.Digest), Text: text}); err != nil {
			c.log.Error("security digest: queue", "user", u.Username, "error", err)
		}
	})
	if err != nil {
		c.log.Error("security digest", "error", err)
	}
}

// digestText counts the period's events from the audit log.
func (c *Core) digestText(u *store.User, p store.MailPrefs, since, until time.Time) (string, error) {
	var failed, locks int
	var admins []string
	cursor := ""
	for n := 0; n < digestMaxEvents; {
		events, next, err := c.store.ListAudit(store.AuditFilter{Since: since, Until: until}, cursor, 500)
		if err != nil {
			return "", err
		}
		for _, e := range events {
			switch {
			case e.Action == ActionLogin && e.Outcome == OutcomeFailure:
				failed++
			case e.Action == ActionUserLock:
				locks++
			case (e.Action == ActionUserRole && (strings.HasSuffix(e.Reason, "-> admin") || strings.HasSuffix(e.Reason, "-> owner"))) ||
				(e.Action == ActionUserCreate && (e.Reason == "role admin" || e.Reason == "role owner")):
				admins = append(admins, strings.TrimPrefix(e.Resource, "user:")+" ("+e.Reason+", by "+e.Actor+")")
			}
		}
		n += len(events)
		if next == "" {
			break
		}
		cursor = next
	}
	l, zone := c.LangOf(u), userZone(u, p)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s\n\n", l.S("mail.hello", "Name", u.Username), l.S("mail.digest.intro."+p.Digest))
	fmt.Fprintf(&b, "%s\n\n", l.S("mail.digest.period", "Since", NoticeTime(l, since, zone), "Until", NoticeTime(l, until, zone)))
	fmt.Fprintf(&b, "%s\n", l.S("mail.digest.counts", "Failed", failed, "Locked", locks, "Admins", len(admins)))
	for _, a := range admins {
		fmt.Fprintf(&b, "  - %s\n", a)
	}
	fmt.Fprintf(&b, "\n%s\n", l.S("mail.digest.footer", "AuditURL", c.portal.JoinPath("/admin/audit").String(),
		"ProfileURL", c.portal.JoinPath("/profile").String()))
	b.WriteString(c.mailSignature())
	return b.String(), nil
}
