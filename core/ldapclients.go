package core

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The directory server's bind clients (cn=<name>,ou=system,<base>): apps
// that list users and check their passwords over LDAP. Admins with
// settings.write make them; the secret is shown once and stored as an
// HMAC under the server key, like an API key, so checking one costs no
// argon2id. A client made for an app sees and signs in only the users that
// app's access rules let in.

// DefaultDirectoryBaseDN is the directory server's base DN unless
// configured.
const DefaultDirectoryBaseDN = "dc=gatehouse"

// LDAPSecretPrefix starts every bind client secret, so secret scanners can
// recognise one: "ghl_" + 43 base62 characters (32 random bytes) + a
// 6-character checksum, like an API key.
const LDAPSecretPrefix = "ghl_"

// Audit actions of bind clients.
const (
	ActionLDAPClientCreate = "ldap_client.create"
	ActionLDAPClientDelete = "ldap_client.delete"
	ActionLDAPClientBind   = "ldap_client.bind"
)

// LDAPClientInput is what an admin gives to make a bind client.
type LDAPClientInput struct {
	// Name is the cn of the bind DN (group-name rules).
	Name string `json:"name"`
	// App, when set, names the registered app whose access rules limit
	// the users the client sees and signs in.
	App string `json:"app"`
}

// LDAPClientView is a bind client as the API shows it.
type LDAPClientView struct {
	Name       string     `json:"name"`
	App        string     `json:"app"`
	BindDN     string     `json:"bind_dn"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip,omitempty"`
	// Secret is set only in the answer to its creation.
	Secret string `json:"secret,omitempty"`
}

// DirectoryBaseDN is the directory server's base DN.
func (c *Core) DirectoryBaseDN() string { return c.dirBase }

// LDAPClientDN is the bind DN of the client called name.
func (c *Core) LDAPClientDN(name string) string {
	return "cn=" + name + ",ou=system," + c.dirBase
}

func (s *Credentials) ldapClientView(r *store.LDAPClient) LDAPClientView {
	return LDAPClientView{Name: r.Name, App: r.App, BindDN: s.LDAPClientDN(r.Name), CreatedAt: r.CreatedAt,
		CreatedBy: r.CreatedBy, LastUsedAt: TimeOrNil(r.LastUsedAt), LastUsedIP: r.LastUsedIP}
}

// needDirectoryAdmin refuses actors who may not manage bind clients:
// settings.write, from a signed-in person (not an API key, not while
// impersonating: a bind client is a standing secret).
func needDirectoryAdmin(c *Actor) error {
	if err := Need(c, policies.PermSettingsWrite); err != nil {
		return err
	}
	if c.Key != nil {
		return fmt.Errorf("%w: API keys cannot make or remove LDAP clients; sign in", ErrForbidden)
	}
	if c.Impersonating() {
		return fmt.Errorf("%w: not while impersonating", ErrForbidden)
	}
	return nil
}

// CreateLDAPClient makes a bind client and returns it with its secret
// (shown this once).
func (s *Credentials) CreateLDAPClient(c *Actor, in LDAPClientInput) (LDAPClientView, error) {
	if err := needDirectoryAdmin(c); err != nil {
		return LDAPClientView{}, err
	}
	// A client reads every user it sees (names, addresses, groups):
	// nobody hands out a reading they could not do themselves.
	if !c.Can(policies.PermUsersRead) {
		return LDAPClientView{}, fmt.Errorf("%w: an LDAP client reads the users, which needs the %s permission too", ErrForbidden, policies.PermUsersRead)
	}
	name := policies.NormalizeUsername(in.Name)
	if err := policies.ValidateGroupName(name); err != nil {
		return LDAPClientView{}, Input("name", `may contain only lowercase letters, digits, ".", "-" and "_" (2 to 32 characters)`)
	}
	app := strings.TrimSpace(in.App)
	if app != "" {
		if _, err := s.Access.AppNamed(app); err != nil {
			return LDAPClientView{}, Input("app", "no app called %q", app)
		}
	}
	secret := newLDAPSecret()
	h := s.keyHash(secret)
	rec := &store.LDAPClient{Name: name, App: app, Hash: h[:], CreatedBy: c.User.Username}
	if err := s.store.CreateLDAPClient(rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return LDAPClientView{}, Conflictf("an LDAP client called %q", name)
		}
		return LDAPClientView{}, fmt.Errorf("core: create ldap client: %w", err)
	}
	reason := "every active user"
	if app != "" {
		reason = "users of app " + app
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionLDAPClientCreate, Resource: "ldap_client:" + name,
		Outcome: OutcomeSuccess, Reason: reason})
	v := s.ldapClientView(rec)
	v.Secret = secret
	return v, nil
}

// ListLDAPClients returns every bind client with its last use.
func (s *Credentials) ListLDAPClients(c *Actor) ([]LDAPClientView, error) {
	if err := Need(c, policies.PermSettingsWrite); err != nil {
		return nil, err
	}
	recs, err := s.store.ListLDAPClients()
	if err != nil {
		return nil, fmt.Errorf("core: list ldap clients: %w", err)
	}
	out := make([]LDAPClientView, 0, len(recs))
	for _, r := range recs {
		out = append(out, s.ldapClientView(r))
	}
	return out, nil
}

// DeleteLDAPClient removes a bind client; its connections lose their
// rights at their next operation.
func (s *Credentials) DeleteLDAPClient(c *Actor, name string) error {
	if err := needDirectoryAdmin(c); err != nil {
		return err
	}
	name = policies.NormalizeUsername(name)
	if err := s.store.DeleteLDAPClient(name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFoundf("LDAP client %q", name)
		}
		return fmt.Errorf("core: delete ldap client: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionLDAPClientDelete, Resource: "ldap_client:" + name,
		Outcome: OutcomeSuccess})
	return nil
}

// CheckLDAPClient checks the secret of the bind client called name for a
// bind of a (anonymous, its address known). Every failure is the same
// ErrBadCredentials; the audit log keeps the reason. A client whose maker
// no longer holds settings.write (or is gone or disabled) no longer binds:
// credentials an admin made die when the admin loses the right to make
// them.
func (s *Credentials) CheckLDAPClient(a *Actor, name, secret string) (*store.LDAPClient, error) {
	fail := func(reason string) (*store.LDAPClient, error) {
		s.Audit(a, store.Event{Actor: "ldap_client:" + truncate(name, 40), Action: ActionLDAPClientBind,
			Resource: "ldap_client:" + truncate(name, 40), Outcome: OutcomeFailure, Reason: reason})
		return nil, ErrBadCredentials
	}
	if !wellFormedSecret(secret, LDAPSecretPrefix) {
		return fail("malformed secret")
	}
	h := s.keyHash(secret)
	rec, err := s.store.LDAPClient(policies.NormalizeUsername(name))
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown client")
	}
	if err != nil {
		return nil, fmt.Errorf("core: ldap client: %w", err)
	}
	if !hmac.Equal(rec.Hash, h[:]) {
		return fail("wrong secret")
	}
	if !s.makerMay(rec.CreatedBy) {
		return fail("its maker " + rec.CreatedBy + " no longer holds " + string(policies.PermSettingsWrite) + " and " + string(policies.PermUsersRead))
	}
	if err := s.store.TouchLDAPClient(rec, a.IP, s.now()); err != nil {
		s.log.Warn("record ldap client use", "client", rec.Name, "error", err)
	}
	return rec, nil
}

// LDAPClientLive reports whether the bind client rec still exists with the
// same secret and a maker who may make it: a connection bound as it keeps
// its rights only while that holds.
func (s *Credentials) LDAPClientLive(rec *store.LDAPClient) bool {
	cur, err := s.store.LDAPClient(rec.Name)
	return err == nil && hmac.Equal(cur.Hash, rec.Hash) && cur.App == rec.App && s.makerMay(cur.CreatedBy)
}

// makerMay reports whether the active user called username may still make
// a bind client: settings.write, and users.read for what it reads.
func (s *Credentials) makerMay(username string) bool {
	acct, err := s.store.AccountNamed(username)
	if err != nil || !acct.Active(s.now()) {
		return false
	}
	perms, _ := s.PermsOf(acct.Role)
	return perms.Has(policies.PermSettingsWrite) && perms.Has(policies.PermUsersRead)
}

// newLDAPSecret returns a new bind client secret.
func newLDAPSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	body := base62(b[:], keyBodyLen)
	sum := keyChecksum(body)
	return LDAPSecretPrefix + body + string(sum[:])
}

// wellFormedSecret checks the shape and checksum of a secret made like an
// API key under prefix.
func wellFormedSecret(k, prefix string) bool {
	if len(k) != len(prefix)+keyBodyLen+keySumLen || !strings.HasPrefix(k, prefix) {
		return false
	}
	body := k[len(prefix) : len(prefix)+keyBodyLen]
	sum := keyChecksum(body)
	return string(sum[:]) == k[len(prefix)+keyBodyLen:]
}
