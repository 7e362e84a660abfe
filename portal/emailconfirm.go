package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
// freshWindow), from a session of hers: never an API key or an
// impersonation. Addresses set by an administrator, an import, the CLI,
// setup, an invitation (it was mailed to the address) or a provider that
// verified it are trusted as set.

// Audit actions of email changes.
const (
	actionEmailChangeRequested = "email.change.requested"
	actionEmailChangeConfirmed = "email.change.confirmed"
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
func (s *Service) planEmailChange(ctx context.Context, c *caller, u *store.User, email, password string) (emailChange, error) {
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
		return 0, errImpersonating
	}
	if err := s.reproveForEmail(ctx, c, u, password); err != nil {
		return 0, err
	}
	if email == "" {
		return emailDirect, nil
	}
	if !s.mail.Enabled() {
		return 0, errNoMailForEmail
	}
	if other, err := s.store.UserByEmail(email); err == nil && other.ID != u.ID {
		return 0, fmt.Errorf("the email address %q belongs to another account: %w", email, ErrConflict)
	}
	return emailRequest, nil
}

// reproveForEmail checks that the person at the keyboard is u: the
// current password, or for a user without one a sign-in younger than
// freshWindow. A failure is audited.
func (s *Service) reproveForEmail(ctx context.Context, c *caller, u *store.User, password string) error {
	var err error
	switch {
	case u.PasswordHash == "":
		if s.now().Sub(c.Session.CreatedAt) > freshWindow {
			err = fmt.Errorf("%w: to change your email address, sign out and sign in again, then change it within %d minutes", ErrForbidden, int(freshWindow.Minutes()))
		}
	case password == "":
		err = fmt.Errorf("%w: enter your current password to change your email address", ErrForbidden)
	default:
		ok, verr := s.verifyCurrentPassword(ctx, c, password)
		if verr != nil {
			return verr
		}
		if !ok {
			err = fmt.Errorf("%w: your current password is not correct", ErrForbidden)
		}
	}
	if err != nil {
		s.core.Audit(c, store.Event{Actor: u.Username, Action: actionEmailChangeRequested, Resource: "user:" + u.Username,
			Outcome: outcomeFailure, Reason: "not re-proven: " + strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": ")})
	}
	return err
}

// sendEmailConfirmation replaces u's confirmation links with a new one for
// u.PendingEmail and mails it there (never to the old address). It
// reports whether the message went out.
func (s *Service) sendEmailConfirmation(ctx context.Context, u *store.User) (bool, error) {
	if u.PendingEmail == "" {
		return false, fmt.Errorf("%w: there is no new address waiting for confirmation", ErrNotFound)
	}
	if !s.mail.Enabled() {
		return false, errNoMailForEmail
	}
	if _, err := s.store.DeleteUserTokens(tokenKindEmail, u.ID); err != nil {
		return false, fmt.Errorf("portal: replace email confirmation links: %w", err)
	}
	secret, hash := newLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindEmail, Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(emailConfirmLifetime),
		Data: map[string]string{"email": u.PendingEmail}}
	if err := s.store.PutToken(t); err != nil {
		return false, fmt.Errorf("portal: store email confirmation link: %w", err)
	}
	link := s.portal.String() + "/email/confirm/" + secret
	body := "Hello " + u.Username + ",\n\nOpen this link to confirm " + u.PendingEmail + " as the email address of your Gatehouse account:\n\n" +
		link + "\n\nIt works once and expires at " + t.ExpiresAt.UTC().Format(time.RFC1123) +
		".\nUntil then your account keeps its current address.\nIf you did not ask for this, ignore this message.\n"
	return s.sendMail(ctx, u.PendingEmail, "Confirm your new email address", body), nil
}

// cancelEmailChange drops u's pending address and its links.
func (s *Service) cancelEmailChange(u *store.User) (*store.User, error) {
	if _, err := s.store.DeleteUserTokens(tokenKindEmail, u.ID); err != nil {
		return nil, fmt.Errorf("portal: cancel email change: %w", err)
	}
	updated, err := s.store.UpdateUser(u.ID, func(x *store.User) error { x.PendingEmail = ""; return nil })
	if err != nil {
		return nil, fmt.Errorf("portal: cancel email change: %w", err)
	}
	return updated, nil
}

// emailLink returns the live confirmation link of secret and its user.
func (s *Service) emailLink(secret string) (*store.Token, *store.User, error) {
	hash, ok := linkHash(secret)
	if !ok {
		return nil, nil, errLink
	}
	t, err := s.store.Token(tokenKindEmail, hash)
	if err != nil {
		return nil, nil, errLink
	}
	u, err := s.store.User(t.UserID)
	if err != nil || !strings.EqualFold(u.PendingEmail, t.Data["email"]) {
		return nil, nil, errLink
	}
	return t, u, nil
}

// confirmEmail spends the link secret and makes its address the user's
// verified one. An address another account took meanwhile is refused
// (ErrConflict) and the pending change dropped.
func (s *Service) confirmEmail(a *caller, secret string) (*store.User, error) {
	t, _, err := s.emailLink(secret)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.ConsumeToken(tokenKindEmail, t.Hash); err != nil {
		return nil, errLink
	}
	addr := t.Data["email"]
	u, err := s.store.UpdateUser(t.UserID, func(x *store.User) error {
		if !strings.EqualFold(x.PendingEmail, addr) {
			return errLink
		}
		x.Email = addr
		return nil
	})
	switch {
	case errors.Is(err, errLink):
		return nil, err
	case errors.Is(err, store.ErrConflict):
		before, _ := s.store.User(t.UserID)
		if before != nil {
			_, _ = s.cancelEmailChange(before)
			s.core.Audit(a, store.Event{Actor: before.Username, Action: actionEmailChangeConfirmed, Resource: "user:" + before.Username,
				Outcome: outcomeFailure, Reason: "address " + addr + " belongs to another account"})
		}
		return nil, fmt.Errorf("the email address %q now belongs to another account, so it cannot become yours: %w", addr, ErrConflict)
	case err != nil:
		return nil, fmt.Errorf("portal: confirm email address: %w", err)
	}
	s.core.Audit(a, store.Event{Actor: u.Username, Action: actionEmailChangeConfirmed, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: "new address " + u.Email})
	return u, nil
}

// HTTP.

// emailRoutes adds the confirmation link's page and the profile's
// resend and cancel buttons.
func (s *Service) emailRoutes(mux *routeMux) {
	mux.HandleFunc("GET /email/confirm/{token}", s.handleEmailConfirmPage)
	mux.HandleFunc("POST /email/confirm/{token}", s.throttled(s.handleEmailConfirmForm))
	// Resending mails the address already proven fresh when the change
	// was asked for; cancelling keeps the verified address.
	mux.Handle("POST /profile/email/resend", s.notCredential(s.signedIn("", s.handleEmailResend)))
	mux.Handle("POST /profile/email/cancel", s.notCredential(s.signedIn("", s.handleEmailCancel)))
}

// emailConfirmData is the content of /email/confirm/{token}.
type emailConfirmData struct {
	Token, Username, Email, Current string
	Done                            bool
}

// handleEmailConfirmPage shows the link's address and a button: a GET
// (a mail scanner following the link) changes nothing.
func (s *Service) handleEmailConfirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, u, err := s.emailLink(tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, "Link not valid",
			"This link is invalid, has expired or was already used. Change your email address on your profile again to get a new one.", nil)
		return
	}
	s.render(w, http.StatusOK, "email_confirm", page{Title: "Confirm your email address",
		Data: emailConfirmData{Token: tok, Username: u.Username, Email: t.Data["email"], Current: u.Email}})
}

func (s *Service) handleEmailConfirmForm(w http.ResponseWriter, r *http.Request) {
	u, err := s.confirmEmail(s.requestActor(r), r.PathValue("token"))
	switch {
	case errors.Is(err, errLink):
		s.renderError(w, r, http.StatusNotFound, "Link not valid",
			"This link is invalid, has expired or was already used. Change your email address on your profile again to get a new one.", nil)
		return
	case errors.Is(err, ErrConflict):
		s.renderError(w, r, http.StatusConflict, "Address already in use", sentence(err.Error()), nil)
		return
	case err != nil:
		status, msg := s.statusOf(err)
		s.renderError(w, r, status, "Could not confirm", sentence(msg), nil)
		return
	}
	s.render(w, http.StatusOK, "email_confirm", page{Title: "Email address confirmed",
		Data: emailConfirmData{Username: u.Username, Email: u.Email, Done: true}})
}

func (s *Service) handleEmailResend(w http.ResponseWriter, r *http.Request, c *caller) {
	if c.Impersonating() {
		s.pageError(w, r, c, http.StatusForbidden, "Not while impersonating", "Stop impersonating first.")
		return
	}
	u, err := s.store.User(c.User.ID)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	sent, err := s.sendEmailConfirmation(r.Context(), u)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", emailSentMessage(u, sent))
}

func (s *Service) handleEmailCancel(w http.ResponseWriter, r *http.Request, c *caller) {
	if c.Impersonating() {
		s.pageError(w, r, c, http.StatusForbidden, "Not while impersonating", "Stop impersonating first.")
		return
	}
	u, err := s.store.User(c.User.ID)
	if err == nil {
		_, err = s.cancelEmailChange(u)
	}
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", "The change of your email address was cancelled.")
}

// emailSentMessage tells u where the confirmation link went.
func emailSentMessage(u *store.User, sent bool) string {
	if !sent {
		return "Your new address " + u.PendingEmail + " is waiting for confirmation, but the message could not be sent. Try “Send the link again” later."
	}
	keeps := "Until you open it, your account has no email address."
	if u.Email != "" {
		keeps = "Until you open it, your address stays " + u.Email + "."
	}
	return "A confirmation link was sent to " + u.PendingEmail + ". " + keeps
}
