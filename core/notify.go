package core

import (
	"fmt"
	"strings"
	"time"

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

// subject and what say what happened, for the subject line and the body.
func (n Notice) subject() string {
	switch n {
	case NoticeNewDevice:
		return "New sign-in to your account"
	case NoticePasswordChanged:
		return "Your password was changed"
	case NoticeEmailChanged:
		return "Your e-mail address was changed"
	case NoticeFactorAdded:
		return "A second factor was added to your account"
	case NoticeFactorRemoved:
		return "A second factor was removed from your account"
	case NoticeLocked:
		return "Your account was locked after failed sign-ins"
	case NoticeAPIKey:
		return "A new API key was created for your account"
	case NoticeAppPassword:
		return "A new app password was created for your account"
	case NoticeImpersonated:
		return "An administrator signed in as you"
	}
	return "Security notice"
}

// Notify queues the notice n about u's account, caused by a, to u's address
// and fallback address; detail (may be "") is one more sentence. See
// notifyTo.
func (c *Core) Notify(a *Actor, u *store.User, n Notice, detail string) {
	if u == nil {
		return
	}
	c.notifyTo(a, u, n, detail, u.Email)
}

// notifyTo is notify to address (instead of u's current one; the e-mail
// change goes to the old address) and u's fallback address. Nothing is
// queued when mail is not configured, when u has no address, or when n is
// optional and u turned it off.
func (c *Core) notifyTo(a *Actor, u *store.User, n Notice, detail, address string) {
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
	text := c.noticeText(a, u, n, detail, userZone(u, prefs))
	seen := map[string]bool{}
	for _, to := range []string{address, u.FallbackEmail} {
		if to == "" || seen[strings.ToLower(to)] {
			continue
		}
		seen[strings.ToLower(to)] = true
		m := &store.QueuedMail{Kind: string(n), To: to, Subject: n.subject(), Text: text}
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
func (c *Core) noticeText(a *Actor, u *store.User, n Notice, detail, zone string) string {
	var b strings.Builder
	name := u.FullName
	if name == "" {
		name = u.Username
	}
	fmt.Fprintf(&b, "Hello %s,\n\n%s.\n", name, n.subject())
	if detail != "" {
		fmt.Fprintf(&b, "%s\n", detail)
	}
	fmt.Fprintf(&b, "\nAccount: %s\n", u.Username)
	fmt.Fprintf(&b, "When:    %s\n", FormatNoticeTime(c.now(), zone))
	if a != nil && a.IP != "" {
		fmt.Fprintf(&b, "From:    IP address %s, %s\n", a.IP, BrowserOf(a.UserAgent))
	}
	profile := c.portal.JoinPath("/profile").String()
	b.WriteString("\nIf this was you, there is nothing to do.\n")
	b.WriteString("If it was not you, someone else may be using your account: change your password now at\n")
	fmt.Fprintf(&b, "%s\n", c.portal.JoinPath("/profile/password").String())
	fmt.Fprintf(&b, "then review your sessions, second factors, API keys and app passwords at\n%s\n", profile)
	b.WriteString("and end the sessions you do not recognise. Tell your administrator.\n")
	if !n.Critical() {
		fmt.Fprintf(&b, "\nYou can turn these notices off on your profile page (%s).\n", profile)
	}
	return b.String()
}

// FormatNoticeTime writes t in the IANA time zone zone, labelled with the
// zone's name and offset, or in UTC (labelled so) when zone is "" or
// unknown.
func FormatNoticeTime(t time.Time, zone string) string {
	if zone != "" {
		if loc, err := time.LoadLocation(zone); err == nil {
			return t.In(loc).Format("Monday 2 January 2006, 15:04:05 MST (UTC-07:00)") + " " + zone
		}
	}
	return t.UTC().Format("Monday 2 January 2006, 15:04:05") + " UTC"
}

// notifyImpersonated tells u that the administrator of c signed in as
// them, when the "notify_impersonation" setting is on.
func (c *Core) notifyImpersonated(a *Actor, u *store.User) {
	if c.Settings().NotifyImpersonation {
		c.Notify(a, u, NoticeImpersonated, "The administrator "+a.User.Username+" started a session as you, to see the portal and your apps as you do. Everything they do is in the audit log under their name.")
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
	detail := "Your account's e-mail address is now " + after.Email + "; messages no longer come to this address."
	if after.Email == "" {
		detail = "Your account no longer has an e-mail address; messages no longer come to this address."
	}
	if a != nil && a.User != nil && a.User.ID != after.ID {
		detail += " The change was made by the administrator " + a.User.Username + "."
	}
	c.notifyTo(a, after, NoticeEmailChanged, detail, before.Email)
}
