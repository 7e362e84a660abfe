package core

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/store"
)

// secretKeySetting holds the server key when none is given in Options (a
// weaker arrangement: the key then lives beside what it protects).
const secretKeySetting = "secret_key"

// loadSecretKey sets c.sealer from key (32 bytes), or from the key kept in
// the store when key is nil, creating it on first start.
func (c *Core) loadSecretKey(key []byte) error {
	if key == nil {
		err := c.store.Setting(secretKeySetting, &key)
		if errors.Is(err, store.ErrNotFound) {
			key = make([]byte, 32)
			_, _ = rand.Read(key)
			err = c.store.PutSetting(secretKeySetting, key)
		}
		if err != nil {
			return fmt.Errorf("core: server key: %w", err)
		}
	}
	if len(key) != 32 {
		return fmt.Errorf("core: server key must be 32 bytes, got %d", len(key))
	}
	if err := c.checkSharedKey(key); err != nil {
		return err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse api keys"))
	c.keyMAC = m.Sum(nil)
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("core: server key: %w", err)
	}
	c.sealer, err = cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("core: server key: %w", err)
	}
	return nil
}

// keyCheckSetting holds a fingerprint of the server key (an HMAC under the
// key, which does not reveal it) in a database several nodes share.
const keyCheckSetting = "secret_key_check"

// checkSharedKey makes every node of a shared database use one server key:
// the first records the key's fingerprint, a node with another key refuses
// to start (its API keys, TOTP secrets and device cookies would not match
// the others'). On a store of one process (Badger) it does nothing.
func (c *Core) checkSharedKey(key []byte) error {
	if !store.ClusterOf(c.store).Shared() {
		return nil
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse server key check"))
	want := m.Sum(nil)
	var got []byte
	err := c.store.Setting(keyCheckSetting, &got)
	if errors.Is(err, store.ErrNotFound) {
		return c.store.PutSetting(keyCheckSetting, want)
	}
	if err != nil {
		return fmt.Errorf("core: server key check: %w", err)
	}
	if !hmac.Equal(got, want) {
		return errors.New("core: this node's server key (secret.key) is not the one the other nodes of this database use: copy secret.key from a running node into this node's Caddy data directory + /gatehouse (mode 0600)")
	}
	return nil
}

// Seal encrypts plain with the server key (AES-256-GCM); purpose is bound
// as additional data so a sealed value cannot be moved to another use.
func (c *Core) Seal(plain []byte, purpose string) []byte {
	nonce := make([]byte, c.sealer.NonceSize(), c.sealer.NonceSize()+len(plain)+c.sealer.Overhead())
	_, _ = rand.Read(nonce)
	return c.sealer.Seal(nonce, nonce, plain, []byte(purpose))
}

// Open decrypts what Seal made for purpose.
func (c *Core) Open(sealed []byte, purpose string) ([]byte, error) {
	n := c.sealer.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("core: sealed value too short")
	}
	plain, err := c.sealer.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("core: open sealed %s: %w", purpose, err)
	}
	return plain, nil
}

// KeyMAC returns the HMAC key of API keys and device cookies, derived from
// the server key. The caller must not change it.
func (c *Core) KeyMAC() []byte { return c.keyMAC }
