package core

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Security e-mails tell a user that something happened to their account,
// so that a stranger's doing is noticed. The core calls Notify right after
// the change is stored; notify writes the message into the store's mail
// queue and returns; the queue's worker (mailqueue.go) sends it. A request
// never waits for the SMTP server, and a failure to queue is logged, never
// returned: the change it reports has happened.
//
// Critical notices (password, e-mail address, second factors, lockout,
// impersonation) are always sent. The others — a sign-in from a new device
// and a new API key or app password — can be turned off per user
// (MailPrefs).

// Notice names a security event a user is mailed about.
type Notice string

// The notices.
const (
	NoticeNewDevice       Notice = "new_device"
	NoticePasswordChanged Notice = "password_changed"
	NoticeEmailChanged    Notice = "email_changed"
	NoticeFactorAdded     Notice = "factor_added"
	NoticeFactorRemoved   Notice = "factor_removed"
	NoticeLocked          Notice = "account_locked"
	NoticeAPIKey          Notice = "api_key_created"
	NoticeAppPassword     Notice = "app_password_created"
	NoticeImpersonated    Notice = "impersonated"
)

// Critical reports whether n is always sent, whatever the user's
// preferences.
func (n Notice) Critical() bool {
	switch n {
	case NoticeNewDevice, NoticeAPIKey, NoticeAppPassword:
		return false
	}
	return true
}

// subjectID is the catalogue ID of the notice's subject line, which the
// body repeats as its first sentence.
func (n Notice) subjectID() string { return "mail.notice." + string(n) }

// Detail is one more sentence of a notice: a catalogue ID and its
// arguments (name, value pairs; a time.Time value is written in the
// recipient's language and zone). The zero Detail is none.
type Detail struct {
	ID   string
	Args []any
}

// Say is the Detail of message id with args.
func Say(id string, args ...any) Detail { return Detail{ID: id, Args: args} }

// Notify queues the notice n about u's account, caused by a, to u's address
// and fallback address; detail (may be "") is one more sentence. See
// notifyTo.
func (c *Core) Notify(a *Actor, u *store.User, n Notice, detail Detail) {
	if u == nil {
		return
	}
	c.notifyTo(a, u, n, detail, u.Email)
}

// notifyTo is notify to address (instead of u's current one; the e-mail
// change goes to the old address) and u's fallback address. Nothing is
// queued when mail is not configured, when u has no address, or when n is
// optional and u turned it off.
func (c *Core) notifyTo(a *Actor, u *store.User, n Notice, detail Detail, address string) {
	if !c.mail.Enabled() {
		return
	}
	prefs, err := c.store.MailQueue().Prefs(u.ID)
	if err != nil {
		c.log.Error("security e-mail: read preferences", "user", u.Username, "error", err)
	}
	if !n.Critical() && ((n == NoticeNewDevice && prefs.NoNewDevice) || (n != NoticeNewDevice && prefs.NoNewCredential)) {
		return
	}
	l := c.LangOf(u)
	text := c.noticeText(l, a, u, n, detail, userZone(u, prefs))
	seen := map[string]bool{}
	for _, to := range []string{address, u.FallbackEmail} {
		if to == "" || seen[strings.ToLower(to)] {
			continue
		}
		seen[strings.ToLower(to)] = true
		m := &store.QueuedMail{Kind: string(n), To: to, Subject: c.brandSubject(l.S(n.subjectID())), Text: text}
		if err := c.store.MailQueue().Put(m); err != nil {
			c.log.Error("security e-mail: queue", "user", u.Username, "notice", string(n), "error", err)
			continue
		}
		c.wakeMailer()
	}
}

// noticeText is the body of a notice: what, when, from where, and what to
// do. It names only u's own account and the actor's client; for an
// impersonation, the administrator.
func (c *Core) noticeText(l *i18n.Lang, a *Actor, u *store.User, n Notice, detail Detail, zone string) string {
	var b strings.Builder
	name := u.FullName
	if name == "" {
		name = u.Username
	}
	fmt.Fprintf(&b, "%s\n\n%s.\n", l.S("mail.hello", "Name", name), l.S(n.subjectID()))
	if detail.ID != "" {
		args := slices.Clone(detail.Args)
		for i := 1; i < len(args); i += 2 {
			if t, ok := args[i].(time.Time); ok {
				args[i] = NoticeTime(l, t, zone)
			}
		}
		fmt.Fprintf(&b, "%s\n", l.S(detail.ID, args...))
	}
	fmt.Fprintf(&b, "\n%s\n", l.S("mail.notice.account", "Username", u.Username))
	fmt.Fprintf(&b, "%s\n", l.S("mail.notice.when", "Time", NoticeTime(l, c.now(), zone)))
	if a != nil && a.IP != "" {
		fmt.Fprintf(&b, "%s\n", l.S("mail.notice.from", "IP", a.IP, "Browser", BrowserIn(l, a.UserAgent)))
	}
	profile := c.portal.JoinPath("/profile").String()
	fmt.Fprintf(&b, "\n%s\n", l.S("mail.notice.advice", "PasswordURL", c.portal.JoinPath("/profile/password").String(), "ProfileURL", profile))
	if !n.Critical() {
		fmt.Fprintf(&b, "\n%s\n", l.S("mail.notice.optional", "ProfileURL", profile))
	}
	b.WriteString(c.mailSignature())
	return b.String()
}

// FormatNoticeTime writes t in the IANA time zone zone, labelled with the
// zone's name and offset, or in UTC (labelled so) when zone is "" or
// unknown, in English.
func FormatNoticeTime(t time.Time, zone string) string {
	return NoticeTime(i18n.Get(i18n.Default), t, zone)
}

// NoticeTime is FormatNoticeTime in language l.
func NoticeTime(l *i18n.Lang, t time.Time, zone string) string {
	if zone != "" {
		if loc, err := time.LoadLocation(zone); err == nil && zone != "Local" {
			t = t.In(loc)
			return l.LongDate(t) + ", " + t.Format("15:04:05 MST (UTC-07:00)") + " " + zone
		}
	}
	t = t.UTC()
	return l.LongDate(t) + ", " + t.Format("15:04:05") + " UTC"
}

// notifyImpersonated tells u that the administrator of c signed in as
// them, when the "notify_impersonation" setting is on.
func (c *Core) notifyImpersonated(a *Actor, u *store.User) {
	if c.Settings().NotifyImpersonation {
		c.Notify(a, u, NoticeImpersonated, Say("mail.detail.impersonated", "Admin", a.User.Username))
	}
}

// notifyEmailChange tells the old address (and the fallback address) of a
// changed e-mail address; nothing when the address did not change or there
// was none. The message names the new address, which belongs to the same
// account.
func (c *Core) notifyEmailChange(a *Actor, before, after *store.User) {
	if before.Email == "" || strings.EqualFold(before.Email, after.Email) {
		return
	}
	detail := Say("mail.detail.email_now", "Email", after.Email)
	if after.Email == "" {
		detail = Say("mail.detail.email_none")
	}
	if a != nil && a.User != nil && a.User.ID != after.ID {
		detail = Say(detail.ID+"_by_admin", "Email", after.Email, "Admin", a.User.Username)
	}
	c.notifyTo(a, after, NoticeEmailChanged, detail, before.Email)
}
