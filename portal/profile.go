package portal

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

const actionProfileUpdate = "profile.update"

// ProfileInput is what a user may change about themselves.
type ProfileInput struct {
	FullName *string `json:"full_name"`
	Email    *string `json:"email"`
}

// updateProfile changes c's own name and e-mail, unless the "lock profile"
// setting is on.
func (s *Service) updateProfile(c *caller, r *http.Request, in ProfileInput) (*store.User, error) {
	if s.cfg().LockProfile {
		return nil, fmt.Errorf("%w: profiles are locked; ask an administrator to change your details", ErrForbidden)
	}
	var (
		name, email string
		err         error
	)
	if in.FullName != nil {
		if name, err = checkFullName(*in.FullName); err != nil {
			return nil, err
		}
	}
	if in.Email != nil {
		if email, err = checkEmail("email", *in.Email); err != nil {
			return nil, err
		}
	}
	before := c.user
	u, err := s.store.UpdateUser(c.user.ID, func(x *store.User) error {
		if in.FullName != nil {
			x.FullName = name
		}
		if in.Email != nil {
			x.Email = email
		}
		return nil
	})
	if err != nil {
		if isConflict(err) {
			return nil, fmt.Errorf("the email address %q is already used by another account: %w", email, ErrConflict)
		}
		return nil, fmt.Errorf("portal: update profile: %w", err)
	}
	if before.FullName != u.FullName || before.Email != u.Email {
		s.audit(r, store.Event{Actor: u.Username, Action: actionProfileUpdate, Resource: "user:" + u.Username, Outcome: outcomeSuccess})
	}
	return u, nil
}
