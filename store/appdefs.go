package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// App is an app made in the portal or through the API (not declared in
// the Caddyfile). Its access rules (allowed groups and users, operators,
// require_2fa) live in its AppAccess record, as for every portal-managed
// app; this record holds what the app is.
type App struct {
	// Name is the app's name and, for an OIDC client, its client id.
	Name  string `json:"name"`
	Title string `json:"title"`
	URL   string `json:"url,omitempty"`
	// OIDC is the app's registration as an OpenID Connect client; nil
	// when it is not one.
	OIDC *AppOIDC `json:"oidc,omitempty"`
	// CreatedAt is set by CreateApp; CreatedBy names who made the app.
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// AppOIDC is an app's registration as an OpenID Connect client.
type AppOIDC struct {
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	Public                 bool     `json:"public,omitempty"`
	// SecretMAC is the keyed hash of a confidential client's secret under
	// the server key; the secret itself is never stored.
	SecretMAC []byte `json:"secret_mac,omitempty"`
	// SecretBy names who made the current secret and SecretAt when.
	SecretBy string    `json:"secret_by,omitempty"`
	SecretAt time.Time `json:"secret_at,omitzero"`
	// AccessTokenLifetime is in nanoseconds; 0 for the default.
	AccessTokenLifetime time.Duration `json:"access_token_lifetime,omitempty"`
	UserinfoOnlyClaims  bool          `json:"userinfo_only_claims,omitempty"`
	BackchannelLogout   string        `json:"backchannel_logout_uri,omitempty"`
	// Consent marks a third-party app whose users are asked for consent.
	Consent bool `json:"consent,omitempty"`
}

// CreateApp stores a new app and its access rules in one transaction,
// setting CreatedAt and access.UpdatedAt; ErrConflict when an app of that
// name was already made. An access record left by an earlier app of the
// same name is replaced. Durable when it returns.
func (s *Store) CreateApp(a *App, access *AppAccess) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(a.Name) || access.App != a.Name {
		return fmt.Errorf("store: create app %q: invalid name", a.Name)
	}
	now := s.now()
	a.CreatedAt, access.UpdatedAt = now, now
	err := s.updateSync(func(txn kvTxn) error {
		if err := claim(txn, appDefKey(a.Name), "app"); err != nil {
			return err
		}
		if err := put(txn, appDefKey(a.Name), a); err != nil {
			return err
		}
		return put(txn, appKey(a.Name), access)
	})
	if err != nil {
		return fmt.Errorf("store: create app %q: %w", a.Name, err)
	}
	return nil
}

// AppDef returns the app called name that was made in the portal or API,
// or ErrNotFound.
func (s *Store) AppDef(name string) (*App, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	a := new(App)
	if err := s.db.View(func(txn kvTxn) error { return get(txn, appDefKey(name), a) }); err != nil {
		return nil, fmt.Errorf("store: app %q: %w", name, err)
	}
	return a, nil
}

// ListAppDefs returns every app made in the portal or API, sorted by name.
func (s *Store) ListAppDefs() ([]*App, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*App
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixAppDef), func(_, v []byte) error {
			a := new(App)
			if err := decode(v, a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list apps: %w", err)
	}
	slices.SortFunc(out, func(a, b *App) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateAppDef applies f to the stored app called name and writes it back;
// ErrNotFound when there is none. Durable when it returns.
func (s *Store) UpdateAppDef(name string, f func(*App) error) (*App, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	a := new(App)
	err := s.updateSync(func(txn kvTxn) error {
		if err := get(txn, appDefKey(name), a); err != nil {
			return err
		}
		if err := f(a); err != nil {
			return err
		}
		if a.Name != name {
			return fmt.Errorf("the name cannot change")
		}
		return put(txn, appDefKey(name), a)
	})
	if err != nil {
		return nil, fmt.Errorf("store: update app %q: %w", name, err)
	}
	return a, nil
}

// DeleteApp removes the app called name and its access rules in one
// transaction; ErrNotFound when no such app was made. Durable when it
// returns.
func (s *Store) DeleteApp(name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.updateSync(func(txn kvTxn) error {
		if ok, err := exists(txn, appDefKey(name)); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if err := txn.Delete(appDefKey(name)); err != nil {
			return err
		}
		return txn.Delete(appKey(name))
	})
	if err != nil {
		return fmt.Errorf("store: delete app %q: %w", name, err)
	}
	return nil
}
