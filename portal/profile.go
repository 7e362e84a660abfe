package portal

import (
	"context"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/store"
)

const actionProfileUpdate = "profile.update"

// ProfileInput is what a user may change about themselves. A new email
// address needs CurrentPassword and takes effect once confirmed (see
// emailconfirm.go); the address the account already has, sent while a
// change waits, cancels that change.
type ProfileInput struct {
	FullName        *string `json:"full_name"`
	Email           *string `json:"email"`
	CurrentPassword string  `json:"current_password"`
}

// profileResult is what updateProfile did: the user as stored, and
// whether a confirmation link went out (mailed) for its PendingEmail.
type profileResult struct {
	user      *store.User
	requested bool
	mailed    bool
}

// updateProfile changes c's own name and email address, unless the "lock
// profile" setting is on.
func (s *Service) updateProfile(ctx context.Context, c *caller, in ProfileInput) (profileResult, error) {
	if s.cfg().LockProfile {
		return profileResult{}, fmt.Errorf("%w: profiles are locked; ask an administrator to change your details", ErrForbidden)
	}
	var (
		name, email string
		err         error
	)
	if in.FullName != nil {
		if name, err = checkFullName(*in.FullName); err != nil {
			return profileResult{}, err
		}
	}
	before, err := s.store.User(c.User.ID)
	if err != nil {
		return profileResult{}, fmt.Errorf("portal: update profile: %w", err)
	}
	change := emailUnchanged
	if in.Email != nil {
		if email, err = checkEmail("email", *in.Email); err != nil {
			return profileResult{}, err
		}
		if change, err = s.planEmailChange(ctx, c, before, email, in.CurrentPassword); err != nil {
			return profileResult{}, err
		}
	}
	if change == emailCancel || change == emailRequest {
		if _, err := s.store.DeleteUserTokens(tokenKindEmail, before.ID); err != nil {
			return profileResult{}, fmt.Errorf("portal: replace email confirmation links: %w", err)
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
			return profileResult{}, fmt.Errorf("the email address %q is already used by another account: %w", email, ErrConflict)
		}
		return profileResult{}, fmt.Errorf("portal: update profile: %w", err)
	}
	res := profileResult{user: u}
	if change == emailRequest {
		res.requested = true
		if res.mailed, err = s.sendEmailConfirmation(ctx, u); err != nil {
			return profileResult{}, err
		}
		s.core.Audit(c, store.Event{Actor: u.Username, Action: actionEmailChangeRequested, Resource: "user:" + u.Username,
			Outcome: outcomeSuccess, Reason: "confirmation link sent to " + u.PendingEmail})
	}
	if before.FullName != u.FullName || before.Email != u.Email || (change == emailCancel && before.PendingEmail != "") {
		s.core.Audit(c, store.Event{Actor: u.Username, Action: actionProfileUpdate, Resource: "user:" + u.Username, Outcome: outcomeSuccess})
	}
	return res, nil
}
