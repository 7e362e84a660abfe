package portal

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/identity"
	"github.com/gatehouse-auth/gatehouse/store"
)

// linkIdentity links the account id to u and audits it; a conflict is
// refused with a message for the person.
func (s accountUI) linkIdentity(a *caller, p *oidcProvider, u *store.User, id *identity.External, why string) error {
	err := s.store.LinkIdentity(&store.Identity{Provider: p.Name, Subject: id.Subject, UserID: u.ID, Email: id.Email})
	if errors.Is(err, store.ErrConflict) {
		// Either the account is someone else's, or u has another account
		// of this provider.
		msg := "msg.oidc.already_linked_other"
		if other, err := s.store.Identity(p.Name, id.Subject); err == nil && other.UserID != u.ID {
			msg = "msg.oidc.linked_to_other_account"
		}
		s.core.Audit(a, store.Event{Actor: u.Username, Action: actionIdentityLink, Resource: "user:" + u.Username, Outcome: outcomeFailure,
			Reason: "oidc " + p.Name + ": conflict"})
		return &oidcRefusal{status: http.StatusConflict, title: "msg.oidc.account_already_linked", msg: msg, args: []any{"Provider", p.DisplayName}, actor: u.Username,
			auditReason: "link conflict"}
	}
	if err != nil {
		return fmt.Errorf("portal: link identity: %w", err)
	}
	s.core.Audit(a, store.Event{Actor: u.Username, Action: actionIdentityLink, Resource: "user:" + u.Username, Outcome: outcomeSuccess,
		Reason: "oidc " + p.Name + ": " + why})
	return nil
}

// handleOIDCLinkStart starts linking an account of the provider to the
// signed-in caller.
func (s accountUI) handleOIDCLinkStart(w http.ResponseWriter, r *http.Request, c *caller) {
	p := s.signInUI().oidcProvider(r.PathValue("provider"))
	if p == nil {
		s.pageError(w, r, c, http.StatusNotFound, s.pages.tr(c, "status.404"), s.pages.tr(c, "msg.oidc_link.there_is_no_such"))
		return
	}
	if err := s.mayLink(c, p); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	to, err := s.signInUI().beginOIDC(w, p, oidcPurposeLink, c.User, "")
	if err != nil {
		s.log.Error("oidc: start link", "provider", p.Name, "error", err)
		s.pageError(w, r, c, http.StatusServiceUnavailable, s.pages.tr(c, "status.503"),
			s.pages.tr(c, "msg.oidc.provider_unreachable", "Provider", p.DisplayName))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	setPageSecurityHeaders(h)
	w.WriteHeader(http.StatusOK)
	if err := oidcContinuePage.Execute(w, struct{ URL, Provider string }{to, p.DisplayName}); err != nil {
		s.log.Error("render oidc continue page", "error", err)
	}
}

// finishOIDCLink links the verified account id to the user who started
// the flow, who must still be the one signed in.
func (s accountUI) finishOIDCLink(w http.ResponseWriter, r *http.Request, p *oidcProvider, f *oidcFlow, id *identity.External) {
	c, res := s.callerOf(r)
	if res != resolvedOK || c.User.ID != f.userID {
		s.core.Audit(s.requestActor(r), store.Event{Action: actionIdentityLink, Outcome: outcomeFailure, Reason: "oidc " + p.Name + ": not signed in as the user who started the link"})
		s.renderError(w, r, http.StatusForbidden, s.pages.lang(r.Header, nil).S("msg.oidc_link.link_not_completed"),
			s.pages.lang(r.Header, nil).S("msg.oidc_link.you_are_no_longer"), nil)
		return
	}
	if err := s.mayLink(c, p); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if link, err := s.store.Identity(p.Name, id.Subject); err == nil && link.UserID == c.User.ID {
		s.done(w, r, c, "/profile", fmt.Sprintf("This %s account was already linked.", p.DisplayName))
		return
	}
	if err := s.linkIdentity(s.requestActor(r), p, c.User, id, "linked from the profile"); err != nil {
		var ref *oidcRefusal
		if errors.As(err, &ref) {
			s.pageError(w, r, c, ref.status, s.pages.tr(c, ref.title), s.pages.tr(c, ref.msg, ref.args...))
			return
		}
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", fmt.Sprintf("Your %s account is linked: you can sign in with %s.", p.DisplayName, p.DisplayName))
}

// handleOIDCUnlink removes one of the caller's links (profile form).
func (s accountUI) handleOIDCUnlink(w http.ResponseWriter, r *http.Request, c *caller) {
	provider := r.PathValue("provider")
	if err := s.unlinkIdentity(c, provider); err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	name := provider
	if p := s.signInUI().oidcProvider(provider); p != nil {
		name = p.DisplayName
	}
	s.done(w, r, c, "/profile", fmt.Sprintf("Your %s account is no longer linked.", name))
}

// apiMyIdentities answers GET /api/v1/me/identities.
func (s accountUI) apiMyIdentities(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.identitiesOf(c.User)
		return http.StatusOK, list[IdentityView]{Items: items}, err
	})
}

// apiUnlinkIdentity answers DELETE /api/v1/me/identities/{provider}.
func (s accountUI) apiUnlinkIdentity(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.unlinkIdentity(c, r.PathValue("provider"))
	})
}

// mayLink refuses linking while impersonating, and linking a provider
// trusted for MFA from a session that did not pass the second factor the
// user has: the link would be a way around it.
func (s accountUI) mayLink(c *caller, p *oidcProvider) error {
	if c.Impersonating() {
		return core.ErrImpersonating
	}
	if !p.TrustedMFA || c.Session.SecondFactor {
		return nil
	}
	m, err := s.store.MFA(c.User.ID)
	if err != nil {
		return fmt.Errorf("portal: read second factors: %w", err)
	}
	if m.Active() {
		return fmt.Errorf("sign in again with your second factor before you link %s: %w", p.DisplayName, ErrForbidden)
	}
	return nil
}

// IdentityView is a link to an external account as the API shows it.
type IdentityView struct {
	// Provider is the provider's configured name.
	Provider string `json:"provider"`
	// DisplayName is the provider's display name (its name when it is
	// no longer configured).
	DisplayName string `json:"display_name"`
	// Subject is the provider's identifier of the account ("sub").
	Subject string `json:"subject"`
	// Email is the address the provider last reported, for display.
	Email string `json:"email"`
	// CreatedAt is when the link was made.
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the link last signed in; null when never.
	LastUsedAt *time.Time `json:"last_used_at"`
	// Configured is false for a provider no longer in the configuration:
	// the link cannot sign in until it is configured again.
	Configured bool `json:"configured"`
}

// identitiesOf lists the links of u.
func (s accountUI) identitiesOf(u *store.User) ([]IdentityView, error) {
	links, err := s.store.UserIdentities(u.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: list identities: %w", err)
	}
	out := make([]IdentityView, 0, len(links))
	for _, l := range links {
		v := IdentityView{Provider: l.Provider, DisplayName: l.Provider, Subject: l.Subject, Email: l.Email,
			CreatedAt: l.CreatedAt, LastUsedAt: core.TimeOrNil(l.LastUsedAt)}
		if p := s.signInUI().oidcProvider(l.Provider); p != nil {
			v.DisplayName, v.Configured = p.DisplayName, true
		}
		out = append(out, v)
	}
	return out, nil
}

// unlinkIdentity removes the caller's link to provider. The last way to
// sign in is kept: a user without password or passkey cannot unlink
// their only linked account.
func (s accountUI) unlinkIdentity(c *caller, provider string) error {
	if c.Impersonating() {
		return core.ErrImpersonating
	}
	u, err := s.store.User(c.User.ID)
	if err != nil {
		return fmt.Errorf("portal: read user: %w", err)
	}
	links, err := s.store.UserIdentities(u.ID)
	if err != nil {
		return fmt.Errorf("portal: list identities: %w", err)
	}
	if !slices.ContainsFunc(links, func(l *store.Identity) bool { return l.Provider == provider }) {
		return core.NotFoundf("linked %s account", provider)
	}
	if u.PasswordHash == "" && len(links) == 1 {
		m, err := s.store.MFA(u.ID)
		if err != nil {
			return fmt.Errorf("portal: read second factors: %w", err)
		}
		if !slices.ContainsFunc(m.WebAuthn, func(k store.WebAuthnCredential) bool { return k.Discoverable }) {
			return core.Conflictf("this linked account is your only way to sign in: set a password first (Forgot password? on the sign-in page)")
		}
	}
	if _, err := s.store.UnlinkIdentity(u.ID, provider); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return core.NotFoundf("linked %s account", provider)
		}
		return fmt.Errorf("portal: unlink identity: %w", err)
	}
	s.core.Audit(c, store.Event{Actor: c.User.Username, Action: actionIdentityUnlink, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: "oidc " + provider})
	return nil
}
