package core

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Credentials one person makes for another — temporary passwords, reset
// links (including the link of a new account) and invitations — record
// their creator (store.Token.CreatedBy: a user id, or creatorCLI) and die
// when the creator could no longer make them (principle 3 of DESIGN.md
// §6): when the creator's account is deleted, disabled or expired, or
// their role no longer allows it (a temporary password or reset link needs
// policies.CanManage over the user as they are now; an invitation needs
// invitations.write and policies.CanAssignRole of its role).
//
// This is checked when the credential is used (creatorRefusal), not by
// revoking credentials when the creator changes. A revocation hook would
// have to sit on every path that changes what someone may do — a role
// change by API, page, import or CLI, an edit of a custom role that
// changes every holder at once, disabling, deletion, an account expiry
// that passes with no request at all, a restored backup — and one path
// forgotten would leave the credentials alive. The check at use sits on
// the only way in and asks the same policy as the creation did, so it
// cannot be bypassed. A credential refused this way is deleted and the
// refusal audited. Owners see and revoke outstanding reset links and
// temporary passwords through /api/v1/reset-links and
// /api/v1/temp-passwords and on the user's page.

// creatorCLI is the CreatedBy of credentials made by the local
// administrator (the CLI), who controls the server and never loses rights.
const creatorCLI = "cli"

// Audit actions of credentials.
const (
	ActionCredentialVoid   = "credential.void"
	ActionResetLinkRevoke  = "password.reset_link_revoke"
	ActionTempPasswordRevk = "password.temp_revoke"
)

// creatorID is the CreatedBy of a credential c makes.
func creatorID(c *Actor) string {
	if c == nil {
		return ""
	}
	if c.User.ID == "" {
		return creatorCLI
	}
	return c.User.ID
}

// creatorName is the username recorded beside CreatedBy (Data "by" or, for
// invitations, "invited_by"), also the creator of records written before
// CreatedBy existed.
func creatorName(t *store.Token) string {
	if v := t.Data["by"]; v != "" {
		return v
	}
	return t.Data["invited_by"]
}

// creatorRefusal says why the creator of t could not make it now ("" when
// they could, or when nobody made it: a link the user asked for). check
// applies the creation's policy to the creator's current role.
func (s *Credentials) creatorRefusal(t *store.Token, check func(p policies.Principal) error) (string, error) {
	var (
		u   *store.User
		err error
	)
	switch by := creatorName(t); {
	case t.CreatedBy == creatorCLI:
		return "", nil
	case t.CreatedBy != "":
		u, err = s.store.User(t.CreatedBy)
	case by == "" || by == creatorCLI:
		return "", nil
	default: // a record from before CreatedBy
		u, err = s.store.UserByUsername(by)
	}
	if errors.Is(err, store.ErrNotFound) {
		by := creatorName(t)
		if by == "" {
			by = "its creator"
		}
		return "the account of " + by + ", who made it, was deleted", nil
	}
	if err != nil {
		return "", fmt.Errorf("core: creator of a %s token: %w", t.Kind, err)
	}
	if !UserActive(u, s.now()) {
		return u.Username + ", who made it, is disabled or expired", nil
	}
	perms, _ := s.PermsOf(u.Role)
	if err := check(policies.Principal{Role: u.Role, Perms: perms}); err != nil {
		return u.Username + ", who made it, may no longer: " + strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": "), nil
	}
	return "", nil
}

// manageCheck is the policy of temporary passwords and reset links for u.
func (s *Credentials) manageCheck(u *store.User) func(policies.Principal) error {
	return func(p policies.Principal) error { return policies.CanManage(p, s.Users.Target(u.Role)) }
}

// inviteCheck is the policy of an invitation for role.
func (s *Credentials) inviteCheck(role string) func(policies.Principal) error {
	return func(p policies.Principal) error {
		if !p.Perms.Has(policies.PermInvitationsWrite) {
			return fmt.Errorf("%w: inviting needs the %s permission", ErrForbidden, policies.PermInvitationsWrite)
		}
		return policies.CanAssignRole(p, "", s.Users.Target(role))
	}
}

// creatorAllows checks t's creator at use time; a refused t is deleted and
// the refusal audited (actor: who the credential was for).
func (s *Credentials) creatorAllows(a *Actor, t *store.Token, actor, resource string, check func(policies.Principal) error) bool {
	why, err := s.creatorRefusal(t, check)
	if err != nil {
		s.log.Error("check the creator of a credential", "kind", t.Kind, "error", err)
		return false // fail closed
	}
	if why == "" {
		return true
	}
	if err := s.store.DeleteToken(t.Kind, t.Hash); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("delete a void credential", "kind", t.Kind, "error", err)
	}
	s.Audit(a, store.Event{Actor: actor, Action: ActionCredentialVoid, Resource: resource, Outcome: OutcomeFailure,
		Reason: CredentialLabel(t.Kind) + " refused and deleted: " + why})
	return false
}

// credentialNotFound is the not-found error of the credential of kind
// with id (a format per kind, so that pages can translate it).
func credentialNotFound(kind, id string) error {
	switch kind {
	case tokenKindReset:
		return NotFoundf("reset link %q", id)
	case tokenKindTempPassword:
		return NotFoundf("temporary password %q", id)
	case tokenKindInvite:
		return NotFoundf("invitation %q", id)
	}
	return NotFoundf("%s %q", kind, id)
}

// CredentialLabel names a kind of stored credential for people.
func CredentialLabel(kind string) string {
	switch kind {
	case tokenKindReset:
		return "reset link"
	case tokenKindTempPassword:
		return "temporary password"
	case tokenKindInvite:
		return "invitation"
	}
	return kind
}

// CredentialView is an outstanding reset link or temporary password as the
// API shows it: never the secret.
type CredentialView struct {
	// ID is the hex key of the record (for a reset link the SHA-256 of its
	// secret, from which the secret cannot be recovered).
	ID   string `json:"id"`
	Kind string `json:"kind"` // "reset_link" or "temp_password"
	User string `json:"user"`
	// CreatedBy is who made it; "" for a reset link the user asked for
	// with "Forgot password?".
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Welcome marks the link of a new account.
	Welcome bool `json:"welcome,omitempty"`
	// Void says why it will be refused (its creator lost the right to
	// make it); "" when it works.
	Void string `json:"void,omitempty"`
}

// CredentialKinds maps the API's collection names to token kinds.
var CredentialKinds = map[string]string{"reset-links": tokenKindReset, "temp-passwords": tokenKindTempPassword}

func credentialKindName(kind string) string {
	if kind == tokenKindReset {
		return "reset_link"
	}
	return kind
}

// MayListCredentials: only owners see and revoke other people's reset
// links and temporary passwords (the secret is never shown; who holds a
// way into which account is the owners' business).
func MayListCredentials(c *Actor) error {
	if c.User.Role != policies.RoleOwner || c.Impersonating() {
		return fmt.Errorf("%w: only owners can list or revoke reset links and temporary passwords; ask an owner", ErrForbidden)
	}
	return nil
}

// ListCredentials returns the live tokens of kind (reset or temporary
// password), newest first, only those of user u when u is not nil.
func (s *Credentials) ListCredentials(c *Actor, kind string, u *store.User) ([]CredentialView, error) {
	if err := MayListCredentials(c); err != nil {
		return nil, err
	}
	ts, err := s.store.ListTokens(kind)
	if err != nil {
		return nil, fmt.Errorf("core: list %ss: %w", CredentialLabel(kind), err)
	}
	out := []CredentialView{}
	for _, t := range ts {
		if u != nil && t.UserID != u.ID {
			continue
		}
		owner := u
		if owner == nil {
			if owner, err = s.store.User(t.UserID); err != nil {
				continue // its user was deleted: it cannot be used
			}
		}
		v := CredentialView{ID: hex.EncodeToString(t.Hash[:]), Kind: credentialKindName(kind), User: owner.Username,
			CreatedBy: creatorName(t), CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Welcome: t.Data["welcome"] == "1"}
		if v.Void, err = s.creatorRefusal(t, s.manageCheck(owner)); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// RevokeCredential deletes the token of kind with the hex id.
func (s *Credentials) RevokeCredential(c *Actor, kind, id string) error {
	if err := MayListCredentials(c); err != nil {
		return err
	}
	var hash [32]byte
	if b, err := hex.DecodeString(id); err != nil || len(b) != len(hash) {
		return credentialNotFound(kind, id)
	} else {
		copy(hash[:], b)
	}
	t, err := s.store.Token(kind, hash)
	if err != nil {
		return credentialNotFound(kind, id)
	}
	if err := s.store.DeleteToken(kind, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return credentialNotFound(kind, id)
		}
		return fmt.Errorf("core: revoke %s: %w", CredentialLabel(kind), err)
	}
	resource := "user:" + t.UserID
	if u, err := s.store.User(t.UserID); err == nil {
		resource = "user:" + u.Username
	}
	action := ActionResetLinkRevoke
	if kind == tokenKindTempPassword {
		action = ActionTempPasswordRevk
	}
	reason := CredentialLabel(kind) + " made by " + creatorName(t)
	if creatorName(t) == "" {
		reason = CredentialLabel(kind) + " asked for with Forgot password"
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: action, Resource: resource, Outcome: OutcomeSuccess, Reason: reason})
	return nil
}

// HTTP.

// UserCredentials lists u's outstanding reset links and temporary
// passwords for the user page: only for owners, else nil.
func (s *Credentials) UserCredentials(c *Actor, u *store.User) []CredentialView {
	if MayListCredentials(c) != nil {
		return nil
	}
	var out []CredentialView
	for _, kind := range []string{tokenKindReset, tokenKindTempPassword} {
		list, err := s.ListCredentials(c, kind, u)
		if err != nil {
			s.log.Error("list credentials", "user", u.Username, "error", err)
			continue
		}
		out = append(out, list...)
	}
	return out
}
