package core

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/store"
)

// ActionProfileUpdate is the audit action of a profile change.
const ActionProfileUpdate = "profile.update"

// ProfileInput is what a user may change about themselves. A new email
// address needs CurrentPassword and takes effect once confirmed (see
// emailconfirm.go); the address the account already has, sent while a
// change waits, cancels that change.
type ProfileInput struct {
	FullName        *string `json:"full_name"`
	Email           *string `json:"email"`
	CurrentPassword string  `json:"current_password"`
	// SecurityEmails changes the security e-mail preferences (allowed
	// while the profile is locked; see SetMailPrefs).
	SecurityEmails *MailPrefsInput `json:"security_emails"`
	// Language is the language of the user's pages and e-mails: a
	// supported tag ("en", "de", "fr") or "" (from the browser).
	Language *string `json:"language"`
	// TimeZone is the IANA zone of the times the user is shown ("" is
	// UTC). The old field security_emails.time_zone sets the same value.
	TimeZone *string `json:"time_zone"`
}

// ProfileResult is what updateProfile did: the user as stored, and
// whether a confirmation link went out (mailed) for its PendingEmail.
type ProfileResult struct {
	// User is the account after the change.
	User *store.User
	// Requested: a new email address waits for its confirmation link;
	// Mailed: the link was sent.
	Requested bool
	Mailed    bool
}

// UpdateProfile changes c's own name and email address, unless the "lock
// profile" setting is on.
func (s *Users) UpdateProfile(ctx context.Context, c *Actor, in ProfileInput) (ProfileResult, error) {
	if err := checkLanguage("", in.Language, in.TimeZone); err != nil {
		return ProfileResult{}, err
	}
	if in.SecurityEmails != nil {
		if _, err := s.SetMailPrefs(c, *in.SecurityEmails); err != nil {
			return ProfileResult{}, err
		}
	}
	if in.Language != nil || in.TimeZone != nil {
		if c.Key != nil {
			return ProfileResult{}, fmt.Errorf("%w: an API key cannot change the language or time zone; sign in", ErrForbidden)
		}
		if c.Impersonating() {
			return ProfileResult{}, ErrImpersonating
		}
		u, err := s.setLanguage(c, in.Language, in.TimeZone)
		if err != nil {
			return ProfileResult{}, err
		}
		c.User = u
	}
	if in.FullName == nil && in.Email == nil && (in.SecurityEmails != nil || in.Language != nil || in.TimeZone != nil) {
		return ProfileResult{User: c.User}, nil
	}
	if s.Settings().LockProfile {
		return ProfileResult{}, fmt.Errorf("%w: profiles are locked; ask an administrator to change your details", ErrForbidden)
	}
	var (
		name, email string
		err         error
	)
	if in.FullName != nil {
		if name, err = CheckFullName(*in.FullName); err != nil {
			return ProfileResult{}, err
		}
	}
	before, err := s.store.User(c.User.ID)
	if err != nil {
		return ProfileResult{}, fmt.Errorf("core: update profile: %w", err)
	}
	change := emailUnchanged
	if in.Email != nil {
		if email, err = CheckEmail("email", *in.Email); err != nil {
			return ProfileResult{}, err
		}
		if change, err = s.planEmailChange(ctx, c, before, email, in.CurrentPassword); err != nil {
			return ProfileResult{}, err
		}
	}
	if change == emailCancel || change == emailRequest {
		if _, err := s.store.DeleteUserTokens(tokenKindEmail, before.ID); err != nil {
			return ProfileResult{}, fmt.Errorf("core: replace email confirmation links: %w", err)
		}
	}
	u, err := s.store.UpdateUser(c.User.ID, func(x *store.User) error {
		if in.FullName != nil {
			x.FullName = name
		}
		switch change {
		case emailDirect:
			x.Email, x.PendingEmail = email, ""
		case emailCancel:
			x.PendingEmail = ""
		case emailRequest:
			x.PendingEmail = email
		}
		return nil
	})
	if err != nil {
		if isConflict(err) {
			return ProfileResult{}, Conflictf("the email address %q is already used by another account", email)
		}
		return ProfileResult{}, fmt.Errorf("core: update profile: %w", err)
	}
	res := ProfileResult{User: u}
	s.notifyEmailChange(c, before, u)
	if change == emailRequest {
		res.Requested = true
		if res.Mailed, err = s.SendEmailConfirmation(ctx, u); err != nil {
			return ProfileResult{}, err
		}
		s.Audit(c, store.Event{Actor: u.Username, Action: ActionEmailChangeRequested, Resource: "user:" + u.Username,
			Outcome: OutcomeSuccess, Reason: "confirmation link sent to " + u.PendingEmail})
	}
	if before.FullName != u.FullName || before.Email != u.Email || (change == emailCancel && before.PendingEmail != "") {
		s.Audit(c, store.Event{Actor: u.Username, Action: ActionProfileUpdate, Resource: "user:" + u.Username, Outcome: OutcomeSuccess})
	}
	return res, nil
}
