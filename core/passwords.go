package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions of passwords.
const (
	ActionPasswordSet    = "password.set"
	ActionPasswordChange = "password.change"
	ActionPasswordReset  = "password.reset"
	ActionResetLink      = "password.reset_link"
	ActionForgot         = "password.forgot"
)

const tokenKindReset = "reset"

// ErrLink is the one answer to a bad invitation or reset link.
var ErrLink = errors.New("this link is invalid, expired or already used")

// NewLinkSecret returns a 256-bit random secret for a link and its SHA-256,
// the only form stored.
func NewLinkSecret() (string, [32]byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret))
}

// LinkHash hashes a secret from a URL; ok is false for anything that
// cannot be one of ours.
func LinkHash(secret string) ([32]byte, bool) {
	if len(secret) != 43 || !WellFormedToken(secret) {
		return [32]byte{}, false
	}
	return sha256.Sum256([]byte(secret)), true
}

// setPasswordHash hashes pw for u (checking the rules), stores it and ends
// every session of u except keep (zero: all of them).
func (s *Credentials) setPasswordHash(ctx context.Context, u *store.User, pw string, keep store.SessionID) (*store.User, error) {
	hash, err := s.hashPassword(ctx, u, pw)
	if err != nil {
		return nil, err
	}
	return s.storePasswordHash(u, hash, keep)
}

// hashPassword checks pw against the password rules for u and hashes it.
func (s *Credentials) hashPassword(ctx context.Context, u *store.User, pw string) (string, error) {
	if s.Directory.Manages(u) {
		return "", passwordManaged(u)
	}
	if err := s.PasswordRules().Check(pw, u.Username); err != nil {
		return "", Input("password", "%v", err)
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return "", s.Auth.BusyOr(err)
	}
	return hash, nil
}

// storePasswordHash makes hash u's password and ends every session of u
// except keep (zero: all of them), in one transaction; then u's
// outstanding reset links and temporary passwords, so that only the new
// password works from then on.
func (s *Credentials) storePasswordHash(u *store.User, hash string, keep store.SessionID) (*store.User, error) {
	updated, _, err := s.store.UpdateUserEndingSessions(u.ID, func(x *store.User) error {
		x.PasswordHash = hash
		x.PasswordChangedAt = s.now()
		return nil
	}, keep)
	if err != nil {
		return nil, fmt.Errorf("core: set password: %w", err)
	}
	for _, kind := range []string{tokenKindReset, tokenKindTempPassword} {
		if _, err := s.store.DeleteUserTokens(kind, u.ID); err != nil {
			s.log.Error("end reset links and temporary passwords after a password change", "user", u.Username, "error", err)
		}
	}
	_ = s.store.ClearFailures(u.ID)
	_ = s.store.ClearLock(u.ID)
	return updated, nil
}

// AdminSetPassword sets the password of the user ref on behalf of c; every
// session of that user ends.
func (s *Credentials) AdminSetPassword(ctx context.Context, c *Actor, ref, pw string) error {
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return err
	}
	if err := s.Users.MayManage(c, u); err != nil {
		return err
	}
	if err := mayChangeCredentials(c, u, SelfPassword); err != nil {
		return err
	}
	if _, err := s.setPasswordHash(ctx, u, pw, store.SessionID{}); err != nil {
		return err
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionPasswordSet, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	s.Notify(c, u, NoticePasswordChanged, Say("mail.detail.admin_password", "Admin", c.User.Username))
	return nil
}

// ChangeOwnPassword changes c's password after checking the current one;
// c's other sessions end. A session signed in with a temporary password
// needs no current password (like a reset link); an impersonation session
// is refused.
func (s *Credentials) ChangeOwnPassword(ctx context.Context, c *Actor, current, pw string) error {
	if c.Impersonating() {
		return ErrImpersonating
	}
	if s.Directory.Manages(c.User) {
		return passwordManaged(c.User)
	}
	temp := SignedInWithTempPassword(c)
	ok := temp
	if !ok && c.User.PasswordHash != "" {
		var err error
		if ok, err = s.Auth.verifyCurrentPassword(ctx, c, current); err != nil {
			return err
		}
	}
	if !ok {
		s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionPasswordChange, Resource: "user:" + c.User.Username,
			Outcome: OutcomeFailure, Reason: "wrong current password"})
		return Input("current_password", "is not correct")
	}
	if pw == current && !temp {
		return Input("password", "must differ from the current password")
	}
	if _, err := s.setPasswordHash(ctx, c.User, pw, c.SessionID); err != nil {
		return err
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionPasswordChange, Resource: "user:" + c.User.Username, Outcome: OutcomeSuccess})
	s.Notify(c, c.User, NoticePasswordChanged, Detail{})
	return nil
}

// AdminResetLink makes a reset link for the user ref on behalf of c.
func (s *Credentials) AdminResetLink(ctx context.Context, c *Actor, ref string) (string, error) {
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return "", err
	}
	if err := s.Users.MayManage(c, u); err != nil {
		return "", err
	}
	if err := mayChangeCredentials(c, u, SelfPassword); err != nil {
		return "", err
	}
	link, err := s.issueReset(ctx, c, u, false, c)
	if err != nil {
		return "", err
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionResetLink, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	return link, nil
}

// replaceResetLink stores t as its user's only reset link. Deleting the
// old ones and storing the new one are two writes, so replacements are
// serialised: two requests at once never leave two working links.
func (s *Credentials) replaceResetLink(t *store.Token) error {
	s.resetMu.Lock()
	defer s.resetMu.Unlock()
	if _, err := s.store.DeleteUserTokens(tokenKindReset, t.UserID); err != nil {
		return fmt.Errorf("core: replace reset links: %w", err)
	}
	if err := s.store.PutToken(t); err != nil {
		return fmt.Errorf("core: store reset link: %w", err)
	}
	return nil
}

// issueReset makes a single-use link that sets u's password, replacing any
// earlier one, and emails it when mail is set up and u has an address.
// welcome marks the link of a new account. by is who makes it (nil when
// the user asked for it): it dies when they could no longer make it
// (credentials.go).
func (s *Credentials) issueReset(ctx context.Context, a *Actor, u *store.User, welcome bool, by *Actor) (string, error) {
	if s.Directory.Manages(u) {
		return "", passwordManaged(u)
	}
	secret, hash := NewLinkSecret()
	now := s.now()
	life := time.Duration(s.Settings().ResetLifetime)
	if welcome {
		life = time.Duration(s.Settings().InviteLifetime)
	}
	t := &store.Token{Kind: tokenKindReset, Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(life),
		CreatedBy: creatorID(by), Data: map[string]string{}}
	if welcome {
		t.Data["welcome"] = "1"
	}
	if by != nil {
		t.Data["by"] = by.User.Username
	}
	if err := s.replaceResetLink(t); err != nil {
		return "", err
	}
	link := s.portal.String() + "/reset/" + secret
	if to := RecoveryAddresses(u); len(to) > 0 && s.mail.Enabled() {
		kind := "mail.reset"
		if welcome {
			kind = "mail.welcome"
		}
		l := s.LangOf(u)
		subject := l.S(kind + ".subject")
		body := l.S(kind+".body", "Name", u.Username, "Link", link, "Expires", NoticeTime(l, t.ExpiresAt, s.mailZone(u)))
		for _, addr := range to {
			s.sendMail(ctx, addr, subject, body)
		}
	}
	return link, nil
}

// RecoveryAddresses are the addresses a reset link of u goes to: the
// email address and the fallback email address (for when the first is
// lost), each once.
func RecoveryAddresses(u *store.User) []string {
	var to []string
	for _, a := range []string{u.Email, u.FallbackEmail} {
		if a != "" && !slices.ContainsFunc(to, func(b string) bool { return strings.EqualFold(a, b) }) {
			to = append(to, a)
		}
	}
	return to
}

// sendMail sends in the background of the request but waits for it, and
// logs rather than fails: the link is shown to the admin anyway.
func (s *Credentials) sendMail(ctx context.Context, to, subject, body string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := s.mail.Send(ctx, mail.Message{To: to, Subject: subject, Text: body + s.mailSignature()}); err != nil {
		s.log.Error("send mail", "to", to, "subject", subject, "error", err)
		return false
	}
	return true
}

// ForgotPassword emails a reset link to the account named by login (a
// username or email address) when it exists, is active and has an
// address. The caller always answers the same, whatever happened.
func (s *Credentials) ForgotPassword(ctx context.Context, a *Actor, login string) {
	login = strings.TrimSpace(login)
	var (
		u   *store.User
		err error
	)
	switch {
	case login == "" || len(login) > 254:
		return
	case strings.Contains(login, "@"):
		u, err = s.store.UserByEmail(login)
	default:
		u, err = s.store.UserByUsername(policies.NormalizeUsername(login))
	}
	outcome, reason := OutcomeSuccess, "link sent"
	switch {
	case err != nil:
		outcome, reason = OutcomeFailure, "unknown account"
	case !UserActive(u, s.now()):
		outcome, reason = OutcomeFailure, "account disabled or expired"
	case s.Directory.Manages(u):
		outcome, reason = OutcomeFailure, "the password is managed by the external directory"
	case len(RecoveryAddresses(u)) == 0 || !s.mail.Enabled():
		outcome, reason = OutcomeFailure, "no email address or mail not configured"
	default:
		// In the background, so that the answer takes as long whether or
		// not there was a message to send.
		go func() {
			if _, err := s.issueReset(context.WithoutCancel(ctx), nil, u, false, nil); err != nil {
				s.log.Error("forgot password", "user", u.Username, "error", err)
			}
		}()
	}
	resource := ""
	if u != nil {
		resource = "user:" + u.Username
	}
	s.Audit(a, store.Event{Actor: policies.NormalizeUsername(login), Action: ActionForgot, Resource: resource,
		Outcome: outcome, Reason: reason})
}

// ResetToken returns the live reset token of secret and its user.
func (s *Credentials) ResetToken(a *Actor, secret string) (*store.Token, *store.User, error) {
	hash, ok := LinkHash(secret)
	if !ok {
		return nil, nil, ErrLink
	}
	t, err := s.store.Token(tokenKindReset, hash)
	if err != nil {
		return nil, nil, ErrLink
	}
	u, err := s.store.User(t.UserID)
	if err != nil || !UserActive(u, s.now()) {
		return nil, nil, ErrLink
	}
	if s.Directory.Manages(u) {
		// A link made before the account came from the directory.
		return nil, nil, passwordManaged(u)
	}
	if !s.creatorAllows(a, t, u.Username, "user:"+u.Username, s.manageCheck(u)) {
		return nil, nil, ErrLink
	}
	return t, u, nil
}

// ResetPassword sets a new password with a reset link; the link is spent
// and every session of the user ends.
func (s *Credentials) ResetPassword(ctx context.Context, a *Actor, secret, pw string) (*store.User, error) {
	_, u, err := s.ResetToken(a, secret)
	if err != nil {
		return nil, err
	}
	// Check the rules before spending the link, so a weak password can be
	// corrected, and hash it before too, so a crash cannot fall between
	// spending the link and storing the password while the hash is computed.
	pwHash, err := s.hashPassword(ctx, u, pw)
	if err != nil {
		return nil, err
	}
	hash, _ := LinkHash(secret)
	if _, err := s.store.ConsumeToken(tokenKindReset, hash); err != nil {
		return nil, ErrLink
	}
	updated, err := s.storePasswordHash(u, pwHash, store.SessionID{})
	if err != nil {
		return nil, err
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionPasswordReset, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	s.Notify(a, updated, NoticePasswordChanged, Say("mail.detail.reset_link"))
	return updated, nil
}

const actionMailTest = "mail.test"

// SendTestMail sends a test message to to (default: c's own address).
func (s *Credentials) SendTestMail(ctx context.Context, c *Actor, to string) error {
	if !s.mail.Enabled() {
		return Input("", "email is not configured: add an smtp block to the gatehouse global option")
	}
	if to == "" {
		to = c.User.Email
	}
	if _, err := CheckEmail("to", to); err != nil || to == "" {
		return Input("to", "a valid email address is required")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	l := s.ActorLang(c)
	err := s.mail.Send(ctx, mail.Message{To: to, Subject: l.S("mail.test.subject"),
		Text: l.S("mail.test.body", "Portal", s.portal.String()) + s.mailSignature()})
	outcome, reason := OutcomeSuccess, "to "+to
	if err != nil {
		outcome, reason = OutcomeFailure, err.Error()
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: actionMailTest, Resource: "settings", Outcome: outcome, Reason: reason})
	if err != nil {
		return Input("", "sending failed: %v", err)
	}
	return nil
}
