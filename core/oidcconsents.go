package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Consent and connected apps. A third-party app (OIDCClient.Consent) gets
// nothing until the user allows it the scopes it asks for; the consent is
// remembered per user and app and asked again only for new scopes. A
// user's connected apps are those they consented to or hold live refresh
// tokens for; revoking one removes the consent and revokes the tokens.

// ScopeOpenID is the scope every OpenID Connect request carries; it reveals
// nothing beyond the user's stable id and is never asked about.
const ScopeOpenID = "openid"

// scopeWords says what a scope lets an app read, in plain words.
var scopeWords = map[string]string{
	"profile":        "your username and name",
	"email":          "your e-mail address",
	"groups":         "your groups",
	"offline_access": "stay signed in (offline access)",
}

// scopeOrder is the order scopes are shown in; others follow.
var scopeOrder = []string{ScopeOpenID, "profile", "email", "groups", "offline_access"}

func scopeRank(sc string) int {
	if i := slices.Index(scopeOrder, sc); i >= 0 {
		return i
	}
	return len(scopeOrder)
}

// ScopeWords describes scopes in plain words, in order, leaving out openid
// (an unknown scope is shown as itself).
func ScopeWords(scopes []string) []string {
	out := []string{}
	for _, sc := range scopes {
		if sc == ScopeOpenID || sc == "" {
			continue
		}
		w, ok := scopeWords[sc]
		if !ok {
			w = sc
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// ConnectedAppView is one of a user's connected apps.
type ConnectedAppView struct {
	// App is the app's name (its client id); Title and URL as the portal
	// shows it.
	App   string `json:"app"`
	Title string `json:"title"`
	URL   string `json:"url,omitempty"`
	// Scopes are those consented to or held by live refresh tokens, and
	// ScopeWords them in plain words.
	Scopes     []string `json:"scopes"`
	ScopeWords []string `json:"scope_words"`
	// Consent says the user allowed a third-party app.
	Consent bool `json:"consent"`
	// RefreshTokens counts the live refresh token families (an app
	// signed in on so many devices, staying signed in).
	RefreshTokens int `json:"refresh_tokens"`
	// FirstUse is the consent or the first token; LastUse the latest
	// token or consent.
	FirstUse *time.Time `json:"first_use"`
	LastUse  *time.Time `json:"last_use"`
}

// ConsentNeeded reports whether the user must be asked before app gets
// scopes: the app is third-party and the user has not yet allowed every
// one of them (openid aside).
func (s *Access) ConsentNeeded(userID string, app *App, scopes []string) (bool, error) {
	c := app.OIDC()
	if c == nil || !c.Consent {
		return false, nil
	}
	got, err := s.store.OIDCGrants().Consent(userID, app.Name)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("core: consent: %w", err)
	}
	if stale(got, app) {
		return true, nil
	}
	for _, sc := range scopes {
		if sc != ScopeOpenID && !slices.Contains(got.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

// stale reports whether a consent was given to an earlier app of the same
// name (one deleted since): it does not carry over to the new one.
func stale(c *store.OIDCConsent, app *App) bool {
	return app != nil && !app.CreatedAt.IsZero() && c.GrantedAt.Before(app.CreatedAt)
}

// GrantConsent records that the actor allowed app the scopes, and audits
// it (oidc.consent.grant).
func (s *Access) GrantConsent(c *Actor, app string, scopes []string) error {
	if c.Anonymous() {
		return ErrForbidden
	}
	var since time.Time
	s.apps.mu.RLock()
	if a := s.apps.apps[app]; a != nil {
		since = a.CreatedAt
	}
	s.apps.mu.RUnlock()
	if _, err := s.store.OIDCGrants().Grant(c.User.ID, app, scopes, since); err != nil {
		return fmt.Errorf("core: grant consent: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: "oidc.consent.grant", Resource: "app:" + app,
		Outcome: OutcomeSuccess, Reason: "scopes: " + strings.Join(scopes, " ")})
	return nil
}

// DenyConsent audits that the actor refused app the scopes
// (oidc.consent.deny); nothing is remembered.
func (s *Access) DenyConsent(c *Actor, app string, scopes []string) {
	s.Audit(c, store.Event{Actor: c.User.Username, Action: "oidc.consent.deny", Resource: "app:" + app,
		Outcome: OutcomeFailure, Reason: "the user denied scopes: " + strings.Join(scopes, " ")})
}

// ConnectedApps lists the actor's own connected apps.
func (s *Access) ConnectedApps(c *Actor) ([]ConnectedAppView, error) {
	if c.Anonymous() {
		return nil, ErrForbidden
	}
	conns, err := s.store.OIDCGrants().Connections(c.User.ID)
	if err != nil {
		return nil, fmt.Errorf("core: connected apps: %w", err)
	}
	out := []ConnectedAppView{}
	for _, cn := range conns {
		v := ConnectedAppView{App: cn.ClientID, Title: cn.ClientID, Scopes: []string{}, RefreshTokens: len(cn.Families)}
		s.apps.mu.RLock()
		a := s.apps.apps[cn.ClientID]
		s.apps.mu.RUnlock()
		if a != nil {
			v.Title, v.URL = a.Title, a.URL
		}
		if cn.Consent != nil && stale(cn.Consent, a) {
			cn.Consent = nil
		}
		if cn.Consent == nil && len(cn.Families) == 0 {
			continue
		}
		var first, last time.Time
		use := func(scopes []string, from, to time.Time) {
			for _, sc := range scopes {
				if !slices.Contains(v.Scopes, sc) {
					v.Scopes = append(v.Scopes, sc)
				}
			}
			if first.IsZero() || (!from.IsZero() && from.Before(first)) {
				first = from
			}
			if to.After(last) {
				last = to
			}
		}
		if cn.Consent != nil {
			v.Consent = true
			use(cn.Consent.Scopes, cn.Consent.GrantedAt, cn.Consent.UpdatedAt)
		}
		for _, f := range cn.Families {
			use(f.Scopes, f.FirstUse, f.LastUse)
		}
		slices.SortFunc(v.Scopes, func(a, b string) int { return scopeRank(a) - scopeRank(b) })
		v.ScopeWords = ScopeWords(v.Scopes)
		v.FirstUse, v.LastUse = TimeOrNil(first), TimeOrNil(last)
		out = append(out, v)
	}
	return out, nil
}

// RevokeConnectedApp removes the actor's consent to app and revokes every
// refresh token they hold for it (the caller drops the access tokens the
// provider holds in memory); ErrNotFound when there was nothing.
func (s *Access) RevokeConnectedApp(c *Actor, app string) error {
	if c.Anonymous() {
		return ErrForbidden
	}
	found, err := s.store.OIDCGrants().Revoke(c.User.ID, app)
	if err != nil {
		return fmt.Errorf("core: revoke connected app: %w", err)
	}
	if !found {
		return ErrNotFound
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: "oidc.consent.revoke", Resource: "app:" + app,
		Outcome: OutcomeSuccess, Reason: "consent and refresh tokens revoked"})
	return nil
}
