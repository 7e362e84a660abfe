package portal

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

// loadSecretKey sets s.sealer from key (32 bytes), or from the key kept in
// the store when key is nil, creating it on first start.
func (s *Service) loadSecretKey(key []byte) error {
	if key == nil {
		err := s.store.Setting(secretKeySetting, &key)
		if errors.Is(err, store.ErrNotFound) {
			key = make([]byte, 32)
			_, _ = rand.Read(key)
			err = s.store.PutSetting(secretKeySetting, key)
		}
		if err != nil {
			return fmt.Errorf("portal: server key: %w", err)
		}
	}
	if len(key) != 32 {
		return fmt.Errorf("portal: server key must be 32 bytes, got %d", len(key))
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse api keys"))
	s.keyMAC = m.Sum(nil)
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("portal: server key: %w", err)
	}
	s.sealer, err = cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("portal: server key: %w", err)
	}
	return nil
}

// seal encrypts plain with the server key (AES-256-GCM); purpose is bound
// as additional data so a sealed value cannot be moved to another use.
func (s *Service) seal(plain []byte, purpose string) []byte {
	nonce := make([]byte, s.sealer.NonceSize(), s.sealer.NonceSize()+len(plain)+s.sealer.Overhead())
	_, _ = rand.Read(nonce)
	return s.sealer.Seal(nonce, nonce, plain, []byte(purpose))
}

// open decrypts what seal made for purpose.
func (s *Service) open(sealed []byte, purpose string) ([]byte, error) {
	n := s.sealer.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("portal: sealed value too short")
	}
	plain, err := s.sealer.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("portal: open sealed %s: %w", purpose, err)
	}
	return plain, nil
}
