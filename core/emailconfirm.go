package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Changing one's own email address.
//
// Apps trust the address Gatehouse forwards (Remote-Email), and some sign
// people in by it, so an address reaches apps only once its owner has
// proven it. A user who changes her own address gets a confirmation link
// at the new address; until she opens it, store.User.Email (the verified
// address, the one apps see and reset links go to) stays as it was and
// the new one waits in PendingEmail. Asking for the change takes the
// current password (a user without one: a sign-in younger than
// FreshWindow), from a session of hers: never an API key or an
// impersonation. Addresses set by an administrator, an import, the CLI,
// setup, an invitation (it was mailed to the address) or a provider that
// verified it are trusted as set.

// Audit actions of email changes.
const (
	ActionEmailChangeRequested = "email.change.requested"
	ActionEmailChangeConfirmed = "email.change.confirmed"
)

const (
	// tokenKindEmail is the confirmation link of a new address; Data
	// "email" holds the address.
	tokenKindEmail = "email"
	// emailConfirmLifetime is how long a confirmation link works.
	emailConfirmLifetime = 24 * time.Hour
)

// errNoMailForEmail refuses a self-service change that could not be
// confirmed.
var errNoMailForEmail = fmt.Errorf("%w: this Gatehouse does not send email, so a new address cannot be confirmed; ask an administrator to change your email address", ErrForbidden)

// errOwnEmail refuses the admin routes' change of the caller's own
// address: an administrator's new address is confirmed like anyone's.
var errOwnEmail = fmt.Errorf("%w: change your own email address on your profile page (or PATCH /api/v1/me with your current password), which confirms the new address", ErrForbidden)

// emailChange is what updateProfile does about the address: nothing, a
// direct change (the same address in other letter case, or none), or a
// request to confirm a new one.
type emailChange int

const (
	emailUnchanged emailChange = iota
	emailDirect
	emailRequest
	emailCancel
)

// planEmailChange checks a self-service change of c's address from
// current (the verified address) to email and says what to do. It
// refuses API keys, impersonation and a missing or wrong proof, and an
// address that belongs to someone else.
func (s *Users) planEmailChange(ctx context.Context, c *Actor, u *store.User, email, password string) (emailChange, error) {
	if strings.EqualFold(email, u.Email) {
		if u.PendingEmail != "" {
			return emailCancel, nil
		}
		if email == u.Email {
			return emailUnchanged, nil
		}
		return emailDirect, nil
	}
	if c.Key != nil {
		return 0, fmt.Errorf("%w: an API key cannot change the email address; sign in to the portal and change it on your profile page", ErrForbidden)
	}
	if c.Impersonating() {
		return 0, ErrImpersonating
	}
	if err := s.ReproveForEmail(ctx, c, u, password); err != nil {
		return 0, err
	}
	if email == "" {
		return emailDirect, nil
	}
	if !s.mail.Enabled() {
		return 0, errNoMailForEmail
	}
	if other, err := s.store.UserByEmail(email); err == nil && other.ID != u.ID {
		return 0, Conflictf("the email address %q belongs to another account", email)
	}
	return emailRequest, nil
}

// ReproveForEmail checks that the person at the keyboard is u: the
// current password, or for a user without one a sign-in younger than
// FreshWindow. A failure is audited.
func (s *Users) ReproveForEmail(ctx context.Context, c *Actor, u *store.User, password string) error {
	var err error
	switch {
	case u.PasswordHash == "" && !s.Directory.Manages(u):
		if s.now().Sub(c.Session.CreatedAt) > FreshWindow {
			err = fmt.Errorf("%w: to change your email address, sign out and sign in again, then change it within %d minutes", ErrForbidden, int(FreshWindow.Minutes()))
		}
	case password == "":
		err = fmt.Errorf("%w: enter your current password to change your email address", ErrForbidden)
	default:
		ok, verr := s.Auth.verifyCurrentPassword(ctx, c, password)
		if verr != nil {
			return verr
		}
		if !ok {
			err = fmt.Errorf("%w: your current password is not correct", ErrForbidden)
		}
	}
	if err != nil {
		s.Audit(c, store.Event{Actor: u.Username, Action: ActionEmailChangeRequested, Resource: "user:" + u.Username,
			Outcome: OutcomeFailure, Reason: "not re-proven: " + strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": ")})
	}
	return err
}

// SendEmailConfirmation replaces u's confirmation links with a new one for
// u.PendingEmail and mails it there (never to the old address). It
// reports whether the message went out.
func (s *Users) SendEmailConfirmation(ctx context.Context, u *store.User) (bool, error) {
	if u.PendingEmail == "" {
		return false, fmt.Errorf("%w: there is no new address waiting for confirmation", ErrNotFound)
	}
	if !s.mail.Enabled() {
		return false, errNoMailForEmail
	}
	if _, err := s.store.DeleteUserTokens(tokenKindEmail, u.ID); err != nil {
		return false, fmt.Errorf("core: replace email confirmation links: %w", err)
	}
	secret, hash := NewLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindEmail, Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(emailConfirmLifetime),
		Data: map[string]string{"email": u.PendingEmail}}
	if err := s.store.PutToken(t); err != nil {
		return false, fmt.Errorf("core: store email confirmation link: %w", err)
	}
	link := s.portal.String() + "/email/confirm/" + secret
	l := s.LangOf(u)
	body := l.S("mail.confirm.body", "Name", u.Username, "Email", u.PendingEmail, "Link", link,
		"Expires", NoticeTime(l, t.ExpiresAt, s.mailZone(u)))
	return s.Credentials.sendMail(ctx, u.PendingEmail, l.S("mail.confirm.subject"), body), nil
}

// CancelEmailChange drops u's pending address and its links.
func (s *Users) CancelEmailChange(u *store.User) (*store.User, error) {
	if _, err := s.store.DeleteUserTokens(tokenKindEmail, u.ID); err != nil {
		return nil, fmt.Errorf("core: cancel email change: %w", err)
	}
	updated, err := s.store.UpdateUser(u.ID, func(x *store.User) error { x.PendingEmail = ""; return nil })
	if err != nil {
		return nil, fmt.Errorf("core: cancel email change: %w", err)
	}
	return updated, nil
}

// EmailLink returns the live confirmation link of secret and its user.
func (s *Users) EmailLink(secret string) (*store.Token, *store.User, error) {
	hash, ok := LinkHash(secret)
	if !ok {
		return nil, nil, ErrLink
	}
	t, err := s.store.Token(tokenKindEmail, hash)
	if err != nil {
		return nil, nil, ErrLink
	}
	u, err := s.store.User(t.UserID)
	if err != nil || !strings.EqualFold(u.PendingEmail, t.Data["email"]) {
		return nil, nil, ErrLink
	}
	return t, u, nil
}

// ConfirmEmail spends the link secret and makes its address the user's
// verified one. An address another account took meanwhile is refused
// (ErrConflict) and the pending change dropped.
func (s *Users) ConfirmEmail(a *Actor, secret string) (*store.User, error) {
	t, _, err := s.EmailLink(secret)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.ConsumeToken(tokenKindEmail, t.Hash); err != nil {
		return nil, ErrLink
	}
	addr := t.Data["email"]
	var before store.User
	u, err := s.store.UpdateUser(t.UserID, func(x *store.User) error {
		if !strings.EqualFold(x.PendingEmail, addr) {
			return ErrLink
		}
		before = *x
		x.Email = addr
		return nil
	})
	switch {
	case errors.Is(err, ErrLink):
		return nil, err
	case errors.Is(err, store.ErrConflict):
		before, _ := s.store.User(t.UserID)
		if before != nil {
			_, _ = s.CancelEmailChange(before)
			s.Audit(a, store.Event{Actor: before.Username, Action: ActionEmailChangeConfirmed, Resource: "user:" + before.Username,
				Outcome: OutcomeFailure, Reason: "address " + addr + " belongs to another account"})
		}
		return nil, Conflictf("the email address %q now belongs to another account, so it cannot become yours", addr)
	case err != nil:
		return nil, fmt.Errorf("core: confirm email address: %w", err)
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionEmailChangeConfirmed, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: "new address " + u.Email})
	s.notifyEmailChange(a, &before, u)
	return u, nil
}

// HTTP.
