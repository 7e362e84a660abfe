package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Temporary passwords let an administrator get someone signed in without
// learning or replacing their password: POST
// /api/v1/users/{user}/temp-password (users.write, and the rules of
// policies.CanManage) makes a random password, shown once, that works at
// the login form and POST /api/v1/login as an alternative to the user's
// own password.
//
// Each temporary password is single-use: the first sign-in that gets past
// the password step with it spends it, even when a second factor follows
// (whose pending step lasts 5 minutes). Unused, it expires after the
// temp_password_lifetime setting (default 1h). At most maxTempPasswords
// are live per user; making another drops the oldest. Only its argon2id
// hash is stored, in a store.Token of kind "temp_password" that carries no
// secret of its own (its key is random).
//
// It bypasses nothing: a locked, disabled or expired account is refused as
// with the real password, wrong guesses count toward the lockout, and
// second factors and mandatory 2FA still apply. The user's own password is
// left as it is; a change of it ends the user's temporary passwords
// (storePasswordHash). A session signed in with one has Methods
// ["temp_password", …] and may set a new password without the current one
// (like a reset link).

const (
	tokenKindTempPassword = "temp_password"
	ActionTempPassword    = "password.temp"
	MethodTempPassword    = "temp_password"
	// TempPasswordLen is the length of a temporary password (at least the
	// minimum of the password rules).
	TempPasswordLen = 20
	// maxTempPasswords bounds the live temporary passwords of one user, so
	// a sign-in verifies at most this many extra hashes.
	maxTempPasswords = 3
)

// TempPasswordResponse answers POST /api/v1/users/{user}/temp-password.
type TempPasswordResponse struct {
	// Password is the temporary password, shown this once.
	Password string `json:"password"`
	// ExpiresAt is when it stops working if unused.
	ExpiresAt time.Time `json:"expires_at"`
}

// TempPasswordLifetime is how long a new temporary password works.
func (s *Credentials) TempPasswordLifetime() time.Duration {
	if d := time.Duration(s.Settings().TempPasswordLifetime); d > 0 {
		return d
	}
	return DefaultTempPasswordLifetime
}

// Alphabets of temporary passwords: no look-alike characters (0/O, 1/l/I),
// so one can be read out over the phone.
const (
	tempLower  = "abcdefghijkmnpqrstuvwxyz"
	tempUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	tempDigits = "23456789"
	tempSymbol = "-.+=_"
)

// newTempPassword returns a random password that follows the password
// rules in force for username.
func (s *Credentials) newTempPassword(username string) (string, error) {
	rules := s.PasswordRules()
	n := max(TempPasswordLen, rules.MinLength)
	if rules.MaxLength > 0 {
		n = min(n, rules.MaxLength)
	}
	alphabet := tempLower + tempUpper + tempDigits
	if rules.RequireSymbol {
		alphabet += tempSymbol
	}
	for range 100 {
		pw := tempString(alphabet, n)
		if rules.Check(pw, username) == nil {
			return pw, nil
		}
	}
	return "", errors.New("core: cannot make a temporary password that follows the password rules")
}

// tempString draws n characters of alphabet (at most 256 of them)
// uniformly.
func tempString(alphabet string, n int) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // never fails since Go 1.24
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// MakeTempPassword makes a temporary password for the user ref on behalf
// of c.
func (s *Credentials) MakeTempPassword(ctx context.Context, c *Actor, ref string) (*store.User, TempPasswordResponse, error) {
	if c.Impersonating() {
		return nil, TempPasswordResponse{}, ErrImpersonating
	}
	if err := Need(c, policies.PermUsersWrite); err != nil {
		return nil, TempPasswordResponse{}, err
	}
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return nil, TempPasswordResponse{}, err
	}
	if err := s.Users.MayManage(c, u); err != nil {
		return nil, TempPasswordResponse{}, err
	}
	if err := mayChangeCredentials(c, u, SelfPassword); err != nil {
		return nil, TempPasswordResponse{}, err
	}
	if s.Directory.Manages(u) {
		return nil, TempPasswordResponse{}, passwordManaged(u)
	}
	now := s.now()
	if !UserActive(u, now) {
		return nil, TempPasswordResponse{}, Conflictf("%s is disabled or expired: enable the account first", u.Username)
	}
	pw, err := s.newTempPassword(u.Username)
	if err != nil {
		return nil, TempPasswordResponse{}, err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return nil, TempPasswordResponse{}, s.Auth.BusyOr(err)
	}
	live, err := s.tempPasswordsOf(u)
	if err != nil {
		return nil, TempPasswordResponse{}, err
	}
	for _, old := range live[min(len(live), maxTempPasswords-1):] {
		if err := s.store.DeleteToken(tokenKindTempPassword, old.Hash); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, TempPasswordResponse{}, fmt.Errorf("core: drop old temporary password: %w", err)
		}
	}
	_, key := NewLinkSecret() // a random key; the secret is the password
	t := &store.Token{Kind: tokenKindTempPassword, Hash: key, UserID: u.ID, CreatedAt: now, CreatedBy: creatorID(c),
		ExpiresAt: now.Add(s.TempPasswordLifetime()), Data: map[string]string{"hash": hash, "by": c.User.Username}}
	if err := s.store.PutToken(t); err != nil {
		return nil, TempPasswordResponse{}, fmt.Errorf("core: store temporary password: %w", err)
	}
	s.Audit(c, store.Event{Actor: c.User.Username, Action: ActionTempPassword, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: "temporary password for " + u.Username + " until " + t.ExpiresAt.UTC().Format(time.RFC3339)})
	return u, TempPasswordResponse{Password: pw, ExpiresAt: t.ExpiresAt}, nil
}

// tempPasswordsOf returns u's live temporary passwords, newest first.
func (s *Credentials) tempPasswordsOf(u *store.User) ([]*store.Token, error) {
	all, err := s.store.ListTokens(tokenKindTempPassword)
	if err != nil {
		return nil, fmt.Errorf("core: list temporary passwords: %w", err)
	}
	return slices.DeleteFunc(all, func(t *store.Token) bool { return t.UserID != u.ID }), nil
}

// matchTempPassword checks pw against u's live temporary passwords (in the
// bounded hashing pool) and returns the one it matches, or nil, with the
// number of hashes verified. One whose creator could no longer make it
// (credentials.go) matches nothing and is deleted.
func (s *Credentials) matchTempPassword(ctx context.Context, a *Actor, u *store.User, pw string) (*store.Token, int, error) {
	live, err := s.tempPasswordsOf(u)
	if err != nil || len(live) == 0 {
		return nil, 0, err
	}
	n := 0
	for _, t := range live[:min(len(live), maxTempPasswords)] {
		ok, err := s.hasher.Verify(ctx, pw, t.Data["hash"])
		n++
		if errors.Is(err, password.ErrMalformedHash) {
			continue
		}
		if err != nil {
			return nil, n, err
		}
		if ok {
			if !s.creatorAllows(a, t, u.Username, "user:"+u.Username, s.manageCheck(u)) {
				return nil, n, nil
			}
			return t, n, nil
		}
	}
	return nil, n, nil
}

// SignedInWithTempPassword reports whether c's session began with a
// temporary password.
func SignedInWithTempPassword(c *Actor) bool {
	return !c.Impersonating() && len(c.Session.Methods) > 0 && c.Session.Methods[0] == MethodTempPassword
}

// HTTP.
