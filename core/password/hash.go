package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Errors of this package, to check with errors.Is.
var (
	// ErrMismatch says a password does not match a hash. Verify does not
	// return it (a mismatch is false, nil); it is for callers that want to
	// turn a mismatch into an error.
	ErrMismatch = errors.New("password: mismatch")
	// ErrBusy is returned by a Hasher when its queue is full or the
	// context ends while waiting for a worker.
	ErrBusy = errors.New("password: too many hashing requests")
	// ErrMalformedHash is returned when a stored hash is not an argon2id
	// PHC string this package accepts, including one whose parameters are
	// out of bounds.
	ErrMalformedHash = errors.New("password: malformed hash")
)

// Hash hashes password with argon2id and a fresh random salt, and returns
// the PHC string "$argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<key>"
// (salt and key in standard base64 without padding). It fails with
// ErrInvalidParams when p is out of the bounds Verify accepts.
func Hash(password string, p Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidParams, err)
	}
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails (crypto/rand crashes instead)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return phcHash{params: p, salt: salt, key: key}.encode(), nil
}

// Verify reports whether password matches the PHC string encoded. The
// parameters come from the string, so hashes made with older parameters stay
// valid. A mismatch is (false, nil); only a malformed hash is an error
// (ErrMalformedHash). The comparison takes constant time.
func Verify(password, encoded string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	p := h.params
	key := argon2.IDKey([]byte(password), h.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p
// (or cannot be parsed), so that it should be replaced by a fresh hash the
// next time the password is known.
func NeedsRehash(encoded string, p Params) bool {
	h, err := parsePHC(encoded)
	return err != nil || h.params != p
}
