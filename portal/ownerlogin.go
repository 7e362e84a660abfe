package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// OwnerLoginLifetime is how long an owner sign-in link works (core.OwnerLoginLifetime).
const OwnerLoginLifetime = core.OwnerLoginLifetime

// Owner recovery links: `caddy gatehouse owner-login` prints a one-time
// link that signs an owner in without password or second factor, for an
// owner who lost their device. Only whoever controls the server (its admin
// API) can make one. The link is 256 random bits, stored as SHA-256 only,
// single use, and expires after OwnerLoginLifetime; opening it shows a
// confirmation page and only the POST of that page spends it, so a link
// previewer cannot use it up.

// OwnerLoginLink makes a one-time link that signs the owner username in,
// bypassing any second factor, valid for OwnerLoginLifetime. An empty
// username means the first active owner by username. The user must be an
// active owner, else the error is an *InputError. A new link replaces the
// owner's earlier ones. r, when not nil, supplies the audit log's IP and
// user agent; the actor is "cli".
func (s *Service) OwnerLoginLink(ctx context.Context, a *core.Actor, username string) (string, error) {
	u, err := s.core.Credentials.OwnerFor(username)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if _, err := s.store.DeleteUserTokens(core.TokenKindOwnerLogin, u.ID); err != nil {
		return "", fmt.Errorf("portal: replace owner sign-in links: %w", err)
	}
	secret, hash := core.NewLinkSecret()
	now := s.now()
	t := &store.Token{Kind: core.TokenKindOwnerLogin, Hash: hash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(OwnerLoginLifetime)}
	if err := s.store.PutToken(t); err != nil {
		return "", fmt.Errorf("portal: store owner sign-in link: %w", err)
	}
	s.core.Audit(a, store.Event{Actor: "cli", Action: core.ActionOwnerLoginCreate, Resource: "user:" + u.Username, Outcome: outcomeSuccess,
		Reason: "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)})
	return s.portal.String() + "/owner-login/" + secret, nil
}

// useOwnerLogin spends the recovery link secret and starts a full session
// of its owner: the session counts as signed in with a second factor
// (method "owner-login"), so mandatory 2FA and require_2fa apps accept it.
func (s signInUI) useOwnerLogin(w http.ResponseWriter, r *http.Request, secret string) (u *store.User, err error) {
	defer func() { countSignIn(s.core.Metrics(), "owner_login", err, false) }()
	hash, ok := core.LinkHash(secret)
	if !ok {
		return nil, core.ErrLink
	}
	t, err := s.store.ConsumeToken(core.TokenKindOwnerLogin, hash)
	if err != nil {
		return nil, core.ErrLink
	}
	attemptSucceeded(r.Context())
	u, err = s.store.User(t.UserID)
	if err != nil {
		return nil, core.ErrLink
	}
	if u.Role != policies.RoleOwner || !core.UserActive(u, s.now()) {
		s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionOwnerLoginUse, Resource: "user:" + u.Username,
			Outcome: outcomeFailure, Reason: "no longer an active owner"})
		return nil, core.ErrLink
	}
	if _, err := s.secondStepUI().startFullSession(w, r, u, false, []string{core.MethodOwnerLink}, true); err != nil {
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	// The owner is in: earlier wrong passwords no longer count.
	_ = s.store.ClearFailures(u.ID)
	_ = s.store.ClearLock(u.ID)
	if _, err := s.store.UpdateUser(u.ID, func(x *store.User) error { x.LastLoginAt = s.now(); return nil }); err != nil {
		s.log.Error("record owner sign-in", "user", u.Username, "error", err)
	}
	s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionOwnerLoginUse, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: "recovery link, second factor bypassed"})
	return u, nil
}

// ownerLoginData is the content of /owner-login/{token}.
type ownerLoginData struct {
	Token, Username, FullName string
	ExpiresAt                 time.Time
}

// handleOwnerLoginPage shows the confirmation of a recovery link; it does
// not spend the link.
func (s signInUI) handleOwnerLoginPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, u, err := s.core.Credentials.OwnerLoginToken(tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.ownerlogin.help"), nil)
		return
	}
	s.render(w, r, http.StatusOK, "owner_login", page{Title: s.pages.lang(r.Header, nil).S("msg.ownerlogin.owner_recovery_sign_in"),
		Data: ownerLoginData{Token: tok, Username: u.Username, FullName: u.FullName, ExpiresAt: t.ExpiresAt}})
}

// handleOwnerLoginForm spends a recovery link, signs its owner in and
// sends them to the portal home.
func (s signInUI) handleOwnerLoginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := s.useOwnerLogin(w, r, r.PathValue("token")); err != nil {
		if errors.Is(err, core.ErrLink) {
			s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"), s.pages.lang(r.Header, nil).S("msg.ownerlogin.help"), nil)
			return
		}
		s.log.Error("owner sign-in", "error", err)
		s.renderError(w, r, http.StatusInternalServerError, s.pages.lang(r.Header, nil).S("msg.ownerlogin.sign_in_failed"), s.pages.lang(r.Header, nil).S("msg.ownerlogin.something_went_wrong_try"), nil)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
