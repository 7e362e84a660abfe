package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// A session token is 32 random bytes (256 bits) in unpadded base64url. Only
// its SHA-256 (the store.SessionID) is ever stored.
const tokenBytes = 32

// TokenLen is the length of a session token as sent in a cookie.
var TokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a fresh random token and its stored identifier.
func NewToken() (string, store.SessionID) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, SessionIDOf(tok)
}

// SessionIDOf hashes a token. The copy into a stack buffer spares the heap
// allocation of []byte(tok) on the hot path.
func SessionIDOf(tok string) store.SessionID {
	var buf [64]byte
	if len(tok) <= len(buf) {
		n := copy(buf[:], tok)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(tok))
}

// WellFormedToken reports whether tok could have been made by NewToken, so
// garbage never reaches the store.
func WellFormedToken(tok string) bool {
	if len(tok) != TokenLen {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// UserActive reports whether u may use a session at now.
func UserActive(u *store.User, now time.Time) bool {
	return !u.Disabled && (u.ExpiresAt.IsZero() || now.Before(u.ExpiresAt))
}

// ErrPasswordChanged: the user's password was changed while a sign-in was
// under way.
var ErrPasswordChanged = errors.New("the password was changed during sign-in")

// SamePassword is the condition a new session is stored under: the user's
// password is still the one the sign-in saw in u (compared by when it was
// last changed). A password change ends every session of the user, so a
// sign-in that checked the old password must not start one after it.
func SamePassword(u *store.User) func(*store.User) error {
	at := u.PasswordChangedAt
	return func(x *store.User) error {
		if !x.PasswordChangedAt.Equal(at) {
			return ErrPasswordChanged
		}
		return nil
	}
}
