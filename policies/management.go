package policies

import (
	"errors"
	"fmt"
	"strings"
)

// ErrForbidden is wrapped by every refusal of this file, so callers can map
// it to 403.
var ErrForbidden = errors.New("forbidden")

// Principal is someone acting on user accounts: their role and the
// permissions it grants (built-in or custom).
type Principal struct {
	Role  string
	Perms PermissionSet
}

// Target is an account being acted on, or the role it would get.
type Target struct {
	Role  string
	Perms PermissionSet
}

// forbidden is a refusal that says why: "forbidden: " and
// fmt.Sprintf(format, args...).
func forbidden(format string, args ...any) error {
	return &refusal{format: format, args: args}
}

// refusal is an ErrForbidden with its reason as a printf format and its
// arguments, so that pages can say it in their language.
type refusal struct {
	format string
	args   []any
}

func (e *refusal) Error() string {
	return ErrForbidden.Error() + ": " + fmt.Sprintf(e.format, e.args...)
}
func (e *refusal) Unwrap() error { return ErrForbidden }

// Reason is why, in English, as a printf format and its arguments.
func (e *refusal) Reason() (format string, args []any) { return e.format, e.args }

// CanManage reports whether p may change, disable, delete or reset the
// password of an account with role t. The rules of DESIGN.md §4:
//   - p needs users.write;
//   - only owners act on owners;
//   - nobody acts on an account that holds a permission p lacks (so a
//     user_manager touches neither admins nor operators, and an admin
//     can act on other admins but never on owners).
func CanManage(p Principal, t Target) error {
	if !p.Perms.Has(PermUsersWrite) {
		return forbidden("changing users needs the %s permission", PermUsersWrite)
	}
	return Outranks(p, t)
}

// Outranks reports whether p may act on an account with role t at all:
// only owners act on owners, and nobody acts on an account holding a
// permission p lacks.
func Outranks(p Principal, t Target) error {
	if t.Role == RoleOwner && p.Role != RoleOwner {
		return forbidden("only owners can change an owner's account")
	}
	if t.Perms&^p.Perms != 0 {
		return forbidden("the %s role holds permissions you do not have", t.Role)
	}
	return nil
}

// CanAssignRole reports whether p may give an account the role to, where
// from is its current role ("" when the account is being created). Changing
// a role needs users.roles; creating an account with a role other than
// user needs it too; only owners grant or remove owner; nobody grants a
// role holding permissions they lack.
func CanAssignRole(p Principal, from string, to Target) error {
	if from == to.Role {
		return nil
	}
	if !p.Perms.Has(PermUsersRoles) {
		if from == "" && to.Role == RoleUser {
			return nil
		}
		if from == "" {
			return forbidden("you can only create accounts with the %s role", RoleUser)
		}
		return forbidden("changing roles needs the %s permission", PermUsersRoles)
	}
	if (to.Role == RoleOwner || from == RoleOwner) && p.Role != RoleOwner {
		return forbidden("only owners grant or remove the owner role")
	}
	if to.Perms&^p.Perms != 0 {
		return forbidden("the %s role holds permissions you do not have", to.Role)
	}
	return nil
}

// CanChangeRole reports whether p may edit or delete the custom role r,
// held today by holders (usernames; empty when nobody holds it). A change
// of a role changes what every holder may do, so p must be able to manage
// each of them (CanManage: users.write, and the role holds nothing p
// lacks); and even a role nobody holds may only be changed by someone
// holding every permission it grants. Permissions p adds are checked by
// the caller (nobody grants a permission they lack).
func CanChangeRole(p Principal, r Target, holders []string) error {
	if len(holders) > 0 {
		if err := CanManage(p, r); err != nil {
			return forbidden("role %s is held by %s, whom you may not manage (%s)", r.Role, holders[0], reason(err))
		}
	}
	return Outranks(p, r)
}

// reason is err's message without the "forbidden: " prefix, as an error
// that keeps the refusal's reason format for pages.
func reason(err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return plainRefusal{r}
	}
	return errors.New(strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": "))
}

// plainRefusal is a refusal's reason without "forbidden: " in front, as
// an argument of another refusal's message (pages say it with its Reason).
type plainRefusal struct{ *refusal }

func (p plainRefusal) Error() string { return fmt.Sprintf(p.format, p.args...) }
