package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/identity"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// oidcRefusal is a sign-in (or link) refused with a message for the
// person.
type oidcRefusal struct {
	status int
	// title and msg are catalogue IDs; args fill msg.
	title, msg   string
	args         []any
	auditReason  string
	actor        string
	genericLogin bool // answer like the login page: nothing about the account
}

func (e *oidcRefusal) Error() string { return e.auditReason }

// finishOIDCLogin signs in the user of the verified account id.
func (s signInUI) finishOIDCLogin(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, id *identity.External) {
	u, how, err := s.oidcUser(r.Context(), s.requestActor(r), p, id)
	if err != nil {
		var ref *oidcRefusal
		if !errors.As(err, &ref) {
			s.log.Error("oidc: sign-in", "provider", p.Name, "error", err)
			s.core.Audit(s.requestActor(r), store.Event{Action: core.ActionLogin, Outcome: outcomeFailure, Reason: "oidc " + p.Name + ": internal error"})
			s.renderOIDCError(w, r, http.StatusInternalServerError, p, f.rd, s.pages.lang(r.Header, nil).S("msg.secondfactor.something_went_wrong"), s.pages.lang(r.Header, nil).S("msg.oidc.your_sign_in_could"), true)
			return
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: ref.actor, Action: core.ActionLogin, Resource: resourceOf(ref.actor), Outcome: outcomeFailure,
			Reason: "oidc " + p.Name + ": " + ref.auditReason})
		countSignIn(s.core.Metrics(), "oidc", ref, false)
		if ref.genericLogin {
			s.render(w, r, http.StatusUnauthorized, "login", page{Title: s.pages.lang(r.Header, nil).S("login.title"), Error: s.pages.lang(r.Header, nil).S("msg.login.incorrect_username_or_password"),
				Form: map[string]string{"rd": s.secondStepUI().cleanRD(f.rd)}})
			return
		}
		l := s.pages.lang(r.Header, nil)
		s.renderOIDCError(w, r, ref.status, p, f.rd, l.S(ref.title), l.S(ref.msg, ref.args...), false)
		return
	}
	s.oidcSignIn(w, r, p, f, id, u, how)
}

func resourceOf(username string) string {
	if username == "" {
		return ""
	}
	return "user:" + username
}

// oidcUser finds (or links, or creates) the local user of the account id,
// and checks that the user may sign in. how says which way it went.
func (s signInUI) oidcUser(ctx context.Context, a *caller, p *oidcProvider, id *identity.External) (*store.User, string, error) {
	refuse := func(u *store.User, reason string) error {
		return &oidcRefusal{actor: u.Username, auditReason: reason, genericLogin: true}
	}
	check := func(u *store.User) error {
		// From a trusted device only that device's lock applies (lockout.go).
		locked, err := s.core.Auth.LockedFor(u, s.core.Auth.TrustedDevice(a, u))
		switch now := s.now(); {
		case err != nil:
			return err
		case locked:
			return refuse(u, "account locked")
		case u.Disabled:
			return refuse(u, "account disabled")
		case !core.UserActive(u, now):
			return refuse(u, "account expired")
		}
		return nil
	}

	// A linked account.
	link, err := s.store.Identity(p.Name, id.Subject)
	switch {
	case err == nil:
		// Deleting a user deletes their links in the same transaction,
		// so the user exists.
		u, err := s.store.User(link.UserID)
		if err != nil {
			return nil, "", fmt.Errorf("portal: user of a linked identity: %w", err)
		}
		if err := check(u); err != nil {
			return nil, "", err
		}
		return u, "linked account", nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("portal: look up identity: %w", err)
	}

	noAccount := &oidcRefusal{status: http.StatusForbidden, title: "msg.oidc.no_linked_account",
		msg: "msg.oidc.no_linked_account_text", args: []any{"Provider", p.DisplayName},
		auditReason: "no linked account for subject " + truncate(id.Subject, 64)}

	// A new account with the verified address of a local user.
	if p.LinkByEmail && id.EmailVerified && id.Email != "" {
		u, err := s.store.UserByEmail(id.Email)
		switch {
		case err == nil:
			if err := check(u); err != nil {
				return nil, "", err
			}
			if err := s.accountUI().linkIdentity(a, p, u, id, "linked by verified email address"); err != nil {
				return nil, "", err
			}
			return u, "linked by email", nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, "", fmt.Errorf("portal: look up user by email: %w", err)
		}
	}

	if !p.AutoCreate {
		return nil, "", noAccount
	}
	u, err := s.createOIDCUser(ctx, a, p, id)
	if err != nil {
		return nil, "", err
	}
	return u, "new account", nil
}

// createOIDCUser makes the local user of a new account id (auto_create)
// and links it. The username comes from the account's preferred username
// or email address, with a numeric suffix when taken. The email address
// is kept only when the provider says it is verified, so nobody claims
// someone else's address in Gatehouse (or in the headers apps trust).
func (s signInUI) createOIDCUser(ctx context.Context, a *caller, p *oidcProvider, id *identity.External) (*store.User, error) {
	email := ""
	if id.EmailVerified {
		if e, err := core.CheckEmail("email", id.Email); err == nil {
			email = e
		}
	}
	emailTaken := func() error {
		if email == "" {
			return nil
		}
		_, err := s.store.UserByEmail(email)
		switch {
		case err == nil:
			return &oidcRefusal{status: http.StatusConflict, title: "msg.oidc.account_exists",
				msg: "msg.oidc.account_exists_text", args: []any{"Provider", p.DisplayName},
				auditReason: "email address of another user"}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("portal: look up user by email: %w", err)
		}
		return nil
	}
	if err := emailTaken(); err != nil {
		return nil, err
	}
	name, err := core.CheckFullName(id.Name)
	if err != nil {
		name = ""
	}
	base := identity.UsernameBase(id.PreferredUsername, id.Email)
	if base == "" {
		base = "user"
	}
	for n := 1; n <= identity.MaxUsernameTries; n++ {
		nu := NewUser{Username: identity.UsernameCandidate(base, n), Email: email, FullName: name, Role: policies.RoleUser}
		u, err := s.core.Users.ValidateNew(nu, true)
		if err != nil {
			continue // e.g. a reserved name: try the next suffix
		}
		if _, err := s.store.UserByUsername(u.Username); err == nil {
			continue
		}
		u, err = s.core.Users.CreateValidated(ctx, a, u.Username, u, "")
		if errors.Is(err, ErrConflict) {
			if err := emailTaken(); err != nil {
				return nil, err
			}
			continue // the username was taken meanwhile
		}
		if err != nil {
			return nil, err
		}
		if err := s.accountUI().linkIdentity(a, p, u, id, "account created at first sign-in"); err != nil {
			// Another sign-in of the same account won the race: the new
			// user must not stay behind, unlinked.
			if derr := s.store.DeleteUser(u.ID); derr != nil {
				s.log.Error("oidc: remove the user of a lost race", "user", u.Username, "error", derr)
			}
			return nil, err
		}
		return u, nil
	}
	return nil, fmt.Errorf("portal: no free username for %q after %d tries", base, identity.MaxUsernameTries)
}

// oidcSignIn finishes a sign-in of u through p: groups from the provider,
// then a session, or the second step when one is needed.
func (s signInUI) oidcSignIn(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, id *identity.External, u *store.User, how string) {
	fail := func(err error) {
		s.log.Error("oidc: sign-in", "provider", p.Name, "user", u.Username, "error", err)
		s.renderOIDCError(w, r, http.StatusInternalServerError, p, f.rd, s.pages.lang(r.Header, nil).S("msg.secondfactor.something_went_wrong"), s.pages.lang(r.Header, nil).S("msg.oidc.your_sign_in_could"), true)
	}
	u, err := s.recordOIDCLogin(s.requestActor(r), p, id, u)
	if err != nil {
		fail(err)
		return
	}
	method := methodOIDCPrefix + p.Name
	m, err := s.store.MFA(u.ID)
	if err != nil {
		fail(fmt.Errorf("portal: read second factors: %w", err))
		return
	}
	if !p.TrustedMFA && (m.Active() || s.core.Settings().Require2FA) {
		enroll := !m.Active()
		if err := s.secondStepUI().beginSecondStep(w, u, false, enroll, []string{method}); err != nil {
			fail(err)
			return
		}
		s.endSessions(r) // an older session in this browser does not survive a new sign-in
		to := "/login/2fa"
		if enroll {
			to = "/login/enroll"
		}
		http.Redirect(w, r, to+"?rd="+url.QueryEscape(s.secondStepUI().cleanRD(f.rd)), http.StatusFound)
		return
	}
	if _, err := s.secondStepUI().startFullSession(w, r, u, false, []string{method}, p.TrustedMFA); err != nil {
		fail(fmt.Errorf("portal: start session: %w", err))
		return
	}
	s.trustDevice(w, r, u) // and a new-device notice when this browser had none for u
	reason := "oidc " + p.Name + ": " + how
	if p.TrustedMFA {
		reason += ", provider trusted for MFA"
	}
	s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionLogin, Resource: "user:" + u.Username, Outcome: outcomeSuccess, Reason: reason})
	countSignIn(s.core.Metrics(), "oidc", nil, false)
	http.Redirect(w, r, s.cleanReturn(f.rd), http.StatusFound)
}

// recordOIDCLogin stores the sign-in time and the groups the provider
// gives (creating missing groups), and the link's last use.
func (s signInUI) recordOIDCLogin(a *caller, p *oidcProvider, id *identity.External, u *store.User) (*store.User, error) {
	var add []string
	if p.GroupsClaim != "" {
		for _, g := range p.localGroups(id.Groups) {
			if !slices.Contains(u.Groups, g) {
				add = append(add, g)
			}
		}
	}
	if len(add) > 0 {
		if err := s.store.EnsureGroups(add); err != nil {
			return nil, fmt.Errorf("portal: create groups from %s: %w", p.Name, err)
		}
	}
	before := u.Groups
	updated, err := s.store.UpdateUser(u.ID, func(u *store.User) error {
		u.LastLoginAt = s.now()
		u.Groups = append(u.Groups, add...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portal: record login: %w", err)
	}
	if len(add) > 0 {
		s.core.Audit(a, store.Event{Actor: methodOIDCPrefix + p.Name, Action: core.ActionUserGroups, Resource: "user:" + updated.Username,
			Outcome: outcomeSuccess, Reason: "[" + strings.Join(before, ",") + "] -> [" + strings.Join(updated.Groups, ",") + "]"})
	}
	if err := s.store.TouchIdentity(p.Name, id.Subject, id.Email, s.now()); err != nil {
		s.log.Error("oidc: record the link's use", "provider", p.Name, "user", updated.Username, "error", err)
	}
	return updated, nil
}
