package core

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions of invitations.
const (
	ActionInviteCreate = "invitation.create"
	ActionInviteRevoke = "invitation.revoke"
	ActionInviteAccept = "invitation.accept"
)

const tokenKindInvite = "invite"

// InvitationInput invites someone by email.
type InvitationInput struct {
	Email  string   `json:"email"`
	Role   string   `json:"role"`
	Groups []string `json:"groups"`
}

// InvitationView is a pending invitation as the API shows it. Link is set
// only in the answer to its creation: only the hash of the secret is kept.
type InvitationView struct {
	// ID is the hex SHA-256 of the link's secret.
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Groups    []string  `json:"groups"`
	InvitedBy string    `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Link      string    `json:"link,omitempty"`
	Emailed   bool      `json:"emailed"`
	// Void says why the link will be refused: its inviter can no longer
	// invite for its role (credentials.go); "" when it works.
	Void string `json:"void,omitempty"`
}

// InvitationViewOf is the invitation token t as the API shows it.
func InvitationViewOf(t *store.Token) InvitationView {
	v := InvitationView{ID: hex.EncodeToString(t.Hash[:]), Email: t.Data["email"], Role: t.Data["role"],
		InvitedBy: t.Data["invited_by"], CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Groups: []string{}}
	if g := t.Data["groups"]; g != "" {
		v.Groups = strings.Split(g, ",")
	}
	return v
}

// CreateInvitation makes a single-use invitation link on behalf of c, shown
// to c and emailed when mail is set up.
func (s *Credentials) CreateInvitation(ctx context.Context, c *Actor, in InvitationInput) (InvitationView, error) {
	email, err := CheckEmail("email", in.Email)
	if err != nil {
		return InvitationView{}, err
	}
	if email == "" {
		return InvitationView{}, Input("email", "is required")
	}
	if _, err := s.store.UserByEmail(email); err == nil {
		return InvitationView{}, Conflictf("email address %q already belongs to a user", email)
	}
	role := strings.TrimSpace(in.Role)
	if role == "" {
		role = policies.RoleUser
	}
	if _, ok := s.PermsOf(role); !ok {
		return InvitationView{}, Input("role", "unknown role %q", role)
	}
	if err := policies.CanAssignRole(c.Principal(), "", s.Users.Target(role)); err != nil {
		return InvitationView{}, err
	}
	groups, err := normalizeGroupList(in.Groups)
	if err != nil {
		return InvitationView{}, err
	}
	secret, hash := NewLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindInvite, Hash: hash, CreatedAt: now, CreatedBy: creatorID(c),
		ExpiresAt: now.Add(time.Duration(s.Settings().InviteLifetime)),
		Data:      map[string]string{"email": email, "role": role, "groups": strings.Join(groups, ","), "invited_by": c.User.Username}}
	if err := s.store.PutToken(t); err != nil {
		return InvitationView{}, fmt.Errorf("core: store invitation: %w", err)
	}
	v := InvitationViewOf(t)
	v.Link = s.portal.String() + "/invite/" + secret
	if s.mail.Enabled() {
		l := s.LangOf(nil) // the invited person has no profile yet: the portal's default language
		v.Emailed = s.sendMail(ctx, email, l.S("mail.invite.subject"),
			l.S("mail.invite.body", "Inviter", c.User.Username, "Link", v.Link, "Expires", NoticeTime(l, t.ExpiresAt, "")))
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionInviteCreate, Resource: "invitation:" + email,
		Outcome: OutcomeSuccess, Reason: "role " + role})
	return v, nil
}

// ListInvitations returns the pending invitations, newest first.
func (s *Credentials) ListInvitations() ([]InvitationView, error) {
	ts, err := s.store.ListTokens(tokenKindInvite)
	if err != nil {
		return nil, fmt.Errorf("core: list invitations: %w", err)
	}
	out := make([]InvitationView, len(ts))
	for i, t := range ts {
		out[i] = InvitationViewOf(t)
		if out[i].Void, err = s.creatorRefusal(t, s.inviteCheck(t.Data["role"])); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RevokeInvitation deletes the invitation id for c.
func (s *Credentials) RevokeInvitation(c *Actor, id string) error {
	var hash [32]byte
	if b, err := hex.DecodeString(id); err != nil || len(b) != 32 {
		return NotFoundf("invitation")
	} else {
		copy(hash[:], b)
	}
	t, err := s.store.Token(tokenKindInvite, hash)
	if err != nil {
		return NotFoundf("invitation")
	}
	if err := policies.CanAssignRole(c.Principal(), "", s.Users.Target(t.Data["role"])); err != nil {
		return err
	}
	if err := s.store.DeleteToken(tokenKindInvite, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFoundf("invitation")
		}
		return fmt.Errorf("core: revoke invitation: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionInviteRevoke, Resource: "invitation:" + t.Data["email"], Outcome: OutcomeSuccess})
	return nil
}

// Invitation returns the live invitation of secret; one whose inviter
// could no longer invite for its role is refused (credentials.go).
func (s *Credentials) Invitation(a *Actor, secret string) (*store.Token, error) {
	hash, ok := LinkHash(secret)
	if !ok {
		return nil, ErrLink
	}
	t, err := s.store.Token(tokenKindInvite, hash)
	if err != nil {
		return nil, ErrLink
	}
	if !s.creatorAllows(a, t, t.Data["email"], "invitation:"+t.Data["email"], s.inviteCheck(t.Data["role"])) {
		return nil, ErrLink
	}
	return t, nil
}

// AcceptInvitation creates the invitee's account with the username, name
// and password they chose and the email, role and groups of the
// invitation. Input is checked before the link is spent.
func (s *Credentials) AcceptInvitation(ctx context.Context, a *Actor, secret string, nu NewUser) (*store.User, error) {
	t, err := s.Invitation(a, secret)
	if err != nil {
		return nil, err
	}
	nu.Email, nu.Role = t.Data["email"], t.Data["role"]
	nu.Groups = nil
	if g := t.Data["groups"]; g != "" {
		nu.Groups = strings.Split(g, ",")
	}
	u, err := s.Users.validate(nu)
	if err != nil {
		return nil, err
	}
	// Hash before spending the link: a busy hasher (503) or a crash
	// during the hash must not use the invitation up.
	if nu.Password != "" {
		hash, err := s.hasher.Hash(ctx, nu.Password)
		if err != nil {
			return nil, s.Auth.BusyOr(err)
		}
		u.PasswordHash, u.PasswordChangedAt = hash, s.now()
	}
	if _, err := s.store.ConsumeToken(tokenKindInvite, t.Hash); err != nil {
		return nil, ErrLink
	}
	created, err := s.Users.CreateValidated(ctx, a, t.Data["invited_by"], u, "")
	if err != nil {
		if errors.Is(err, ErrConflict) {
			// Give the link back so another username can be tried.
			if perr := s.store.PutToken(t); perr != nil {
				s.log.Error("restore invitation", "error", perr)
			}
		}
		return nil, err
	}
	s.Audit(a, store.Event{Actor: created.Username, Action: ActionInviteAccept, Resource: "user:" + created.Username, Outcome: OutcomeSuccess,
		Reason: "invited by " + t.Data["invited_by"]})
	return created, nil
}
