package core

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"math/big"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions of API keys.
const (
	ActionKeyCreate = "key.create"
	ActionKeyRevoke = "key.revoke"
	ActionKeyUse    = "key.use"
)

// API key scopes.
const (
	scopeInherit  = "inherit"
	ScopeReadOnly = "read-only"
	ScopeApps     = "apps"
)

// An API key is "gth_" + 43 base62 characters (32 random bytes) + 6 base62
// characters of CRC-32 checksum: secret scanners recognise the prefix, and
// a mistyped key is refused without a lookup.
const (
	KeyPrefix   = "gth_"
	keyBodyLen  = 43
	keySumLen   = 6
	keyLen      = len(KeyPrefix) + keyBodyLen + keySumLen
	base62chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

func base62(b []byte, width int) string {
	n := new(big.Int).SetBytes(b)
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62chars[mod.Int64()]
	}
	return string(out)
}

// keyChecksum is the base62 CRC-32 of body, keySumLen characters.
func keyChecksum(body string) [keySumLen]byte {
	sum := crc32.ChecksumIEEE([]byte(body))
	var out [keySumLen]byte
	for i := keySumLen - 1; i >= 0; i-- {
		out[i] = base62chars[sum%62]
		sum /= 62
	}
	return out
}

// newAPIKeySecret returns a new key.
func newAPIKeySecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	body := base62(b[:], keyBodyLen)
	sum := keyChecksum(body)
	return KeyPrefix + body + string(sum[:])
}

// WellFormedKey checks the shape and checksum of a key.
func WellFormedKey(k string) bool {
	if len(k) != keyLen || !strings.HasPrefix(k, KeyPrefix) {
		return false
	}
	body := k[len(KeyPrefix) : len(KeyPrefix)+keyBodyLen]
	sum := keyChecksum(body)
	return string(sum[:]) == k[len(KeyPrefix)+keyBodyLen:]
}

// keyHash is the stored form of a key: HMAC-SHA256 under a key derived
// from the server key, so a copy of the database alone cannot be used to
// check guesses.
func (s *Credentials) keyHash(k string) [32]byte {
	m := pooledKeyMAC(&s.keyMACs, s.keyMAC)
	m.in = append(m.in[:0], k...)
	out := m.sum()
	s.keyMACs.Put(m)
	return out
}

// keyMACState is a pooled HMAC state with its input and output buffers,
// so that a hash on the hot path allocates nothing (a buffer handed to
// the hash.Hash interface would escape).
type keyMACState struct {
	h   hash.Hash
	in  []byte
	out [32]byte
}

// pooledKeyMAC takes an HMAC state under key from pool.
func pooledKeyMAC(pool *sync.Pool, key []byte) *keyMACState {
	if m, ok := pool.Get().(*keyMACState); ok {
		return m
	}
	return &keyMACState{h: hmac.New(sha256.New, key), in: make([]byte, 0, 64)}
}

// sum is the HMAC of m.in.
func (m *keyMACState) sum() [32]byte {
	m.h.Reset()
	_, _ = m.h.Write(m.in)
	m.h.Sum(m.out[:0])
	return m.out
}

// ErrBadKey is every refusal of an API key, whatever its reason (the
// audit log keeps the reason).
var ErrBadKey = errors.New("invalid API key")

// CheckKey finds the live key k for a request of a (anonymous, its client
// address known) and the key's active owner. Every failure is the same
// ErrBadKey to the client; the audit log keeps the reason.
func (s *Credentials) CheckKey(a *Actor, k string, now time.Time) (store.APIKey, *store.User, error) {
	ip := a.IP
	fail := func(reason string, key *store.APIKey) (store.APIKey, *store.User, error) {
		e := store.Event{Action: ActionKeyUse, Outcome: OutcomeFailure, Reason: reason}
		if key != nil {
			e.Resource = "key:" + key.ID
			if u, err := s.store.User(key.UserID); err == nil {
				e.Actor = u.Username
			}
		}
		s.Audit(a, e)
		return store.APIKey{}, nil, ErrBadKey
	}
	if !WellFormedKey(k) {
		return fail("malformed key", nil)
	}
	key, err := s.store.APIKeyByHash(s.keyHash(k))
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown or revoked key", nil)
	}
	if err != nil {
		return store.APIKey{}, nil, fmt.Errorf("core: api key: %w", err)
	}
	if !key.ExpiresAt.IsZero() && !now.Before(key.ExpiresAt) {
		return fail("expired key", &key)
	}
	if len(key.IPAllow) > 0 && !ipAllowed(key.IPAllow, ip) {
		return fail("address "+ip+" not in the key's allowlist", &key)
	}
	u, err := s.store.User(key.UserID)
	if err != nil || !UserActive(u, now) {
		return fail("owner missing, disabled or expired", &key)
	}
	s.store.TouchAPIKey(key.ID, ip, now)
	s.metrics.APIKeyUse()
	return key, u, nil
}

func ipAllowed(cidrs []string, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// KeyReachesApp reports whether the key's scope includes app.
func KeyReachesApp(key *store.APIKey, app string) bool {
	return key.Scope != ScopeApps || slices.Contains(key.Apps, app)
}

// KeyInput creates an API key.
type KeyInput struct {
	Label string `json:"label"`
	// Scope is "inherit", "read-only" or a list of app names.
	Scope any `json:"scope"`
	// ExpiresAt is "never", "30d", "90d" or a date (YYYY-MM-DD) or RFC 3339 time.
	ExpiresAt string `json:"expires_at"`
	// IPAllow lists CIDRs (or single addresses) the key may be used from.
	IPAllow []string `json:"ip_allow"`
}

// APIKeyView is an API key as listed: never the secret, except Key in the
// answer to its creation.
type APIKeyView struct {
	ID         string     `json:"id"`
	Key        string     `json:"key,omitempty"`
	Username   string     `json:"username"`
	Label      string     `json:"label"`
	Scope      string     `json:"scope"`
	Apps       []string   `json:"apps"`
	IPAllow    []string   `json:"ip_allow"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	Uses       int64      `json:"uses"`
}

// APIKeyViewOf is the key k of username as the API shows it.
func (s *Credentials) APIKeyViewOf(k store.APIKey, username string) APIKeyView {
	v := APIKeyView{ID: k.ID, Username: username, Label: k.Label, Scope: k.Scope, Apps: k.Apps, IPAllow: k.IPAllow,
		CreatedAt: k.CreatedAt, LastUsedIP: k.LastUsedIP, Uses: k.Uses}
	if v.Apps == nil {
		v.Apps = []string{}
	}
	if v.IPAllow == nil {
		v.IPAllow = []string{}
	}
	v.ExpiresAt, v.LastUsedAt = TimeOrNil(k.ExpiresAt), TimeOrNil(k.LastUsedAt)
	return v
}

// CreateKey makes an API key for c.
func (s *Credentials) CreateKey(c *Actor, in KeyInput) (APIKeyView, error) {
	if c.Key != nil {
		return APIKeyView{}, fmt.Errorf("%w: API keys cannot make API keys; sign in", ErrForbidden)
	}
	if c.Impersonating() {
		return APIKeyView{}, fmt.Errorf("%w: not while impersonating", ErrForbidden)
	}
	rec := store.APIKey{UserID: c.User.ID, Label: strings.TrimSpace(in.Label)}
	if rec.Label == "" || len([]rune(rec.Label)) > 64 || strings.ContainsFunc(rec.Label, IsControl) {
		return APIKeyView{}, Input("label", "is required: at most 64 printable characters")
	}
	switch v := in.Scope.(type) {
	case nil:
		rec.Scope = scopeInherit
	case string:
		if v != scopeInherit && v != ScopeReadOnly {
			return APIKeyView{}, Input("scope", `must be "inherit", "read-only" or a list of app names`)
		}
		rec.Scope = v
	case []any:
		rec.Scope = ScopeApps
		for _, a := range v {
			name, _ := a.(string)
			if _, err := s.Access.AppNamed(name); err != nil {
				return APIKeyView{}, Input("scope", "no app called %q", name)
			}
			if !slices.Contains(rec.Apps, name) {
				rec.Apps = append(rec.Apps, name)
			}
		}
		if len(rec.Apps) == 0 {
			return APIKeyView{}, Input("scope", "name at least one app")
		}
	default:
		return APIKeyView{}, Input("scope", `must be "inherit", "read-only" or a list of app names`)
	}
	now := s.now()
	switch e := strings.TrimSpace(in.ExpiresAt); e {
	case "", "never":
	case "30d", "90d":
		d, _ := ParseDuration(e)
		rec.ExpiresAt = now.Add(d)
	default:
		t, err := parseExpiry(e)
		if err != nil {
			return APIKeyView{}, Input("expires_at", `must be "never", "30d", "90d" or a date (YYYY-MM-DD)`)
		}
		if !t.After(now) {
			return APIKeyView{}, Input("expires_at", "is in the past")
		}
		rec.ExpiresAt = t
	}
	for _, cidr := range in.IPAllow {
		cidr = strings.TrimSpace(cidr)
		if cidr == "" {
			continue
		}
		if a, err := netip.ParseAddr(cidr); err == nil {
			cidr = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return APIKeyView{}, Input("ip_allow", "%q is not an address or CIDR", cidr)
		}
		rec.IPAllow = append(rec.IPAllow, p.Masked().String())
	}
	secret := newAPIKeySecret()
	rec.Hash = s.keyHash(secret)
	if err := s.store.CreateAPIKey(&rec); err != nil {
		return APIKeyView{}, fmt.Errorf("core: create api key: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionKeyCreate, Resource: "key:" + rec.ID, Outcome: OutcomeSuccess,
		Reason: rec.Label + " (" + rec.Scope + ")"})
	s.Notify(c, c.User, NoticeAPIKey, Say("mail.detail.label", "Label", strconv.Quote(rec.Label)))
	v := s.APIKeyViewOf(rec, c.User.Username)
	v.Key = secret
	return v, nil
}

// ListKeys returns c's keys, or everyone's when all is set (keys.read).
func (s *Credentials) ListKeys(c *Actor, all bool) ([]APIKeyView, error) {
	uid := c.User.ID
	if all {
		if !c.Can(policies.PermKeysRead) {
			return nil, fmt.Errorf("%w: listing everyone's keys needs the %s permission", ErrForbidden, policies.PermKeysRead)
		}
		uid = ""
	}
	keys, err := s.store.APIKeys(uid)
	if err != nil {
		return nil, fmt.Errorf("core: list api keys: %w", err)
	}
	names := map[string]string{}
	out := make([]APIKeyView, 0, len(keys))
	for _, k := range keys {
		name, ok := names[k.UserID]
		if !ok {
			if u, err := s.store.User(k.UserID); err == nil {
				name = u.Username
			}
			names[k.UserID] = name
		}
		out = append(out, s.APIKeyViewOf(k, name))
	}
	return out, nil
}

// RevokeKey revokes one of c's keys, or anyone's with keys.admin.
func (s *Credentials) RevokeKey(c *Actor, id string) error {
	k, err := s.store.APIKey(id)
	if errors.Is(err, store.ErrNotFound) {
		return NotFoundf("key")
	}
	if err != nil {
		return fmt.Errorf("core: api key: %w", err)
	}
	owner := c.User.Username
	if k.UserID != c.User.ID {
		if !c.Can(policies.PermKeysAdmin) {
			return NotFoundf("key") // other people's keys are not even named
		}
		u, err := s.store.User(k.UserID)
		if err == nil {
			owner = u.Username
			if err := s.Sessions.outranks(c, u); err != nil {
				return err
			}
		}
	}
	if err := s.store.DeleteAPIKey(id); err != nil {
		return fmt.Errorf("core: revoke api key: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionKeyRevoke, Resource: "key:" + id, Outcome: OutcomeSuccess,
		Reason: "owner " + owner + ", " + k.Label})
	return nil
}

// revokeAllKeys ends every API key of u (when u is disabled or deleted).
func (s *Credentials) revokeAllKeys(a *Actor, actor string, u *store.User) {
	n, err := s.store.DeleteUserAPIKeys(u.ID)
	if err != nil {
		s.log.Error("revoke api keys", "user", u.Username, "error", err)
		return
	}
	if n > 0 {
		s.Audit(a, store.Event{Actor: actor, Action: ActionKeyRevoke, Resource: "user:" + u.Username, Outcome: OutcomeSuccess,
			Reason: "all keys of a disabled or deleted user"})
	}
}
