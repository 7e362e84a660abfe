package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/gatehouse-auth/gatehouse/store"
)

// CSRF tokens and flash messages are HMACs under a key kept in the store,
// so they survive a reload of the configuration and a restart.

const pageKeySetting = "csrf_key"

var pageKeyMu sync.Mutex

// pageKey returns the 32-byte key of CSRF tokens and flash messages,
// creating it on first use.
func (s *Service) pageKey() ([]byte, error) {
	if k := s.pageKeyCache.Load(); k != nil {
		return *k, nil
	}
	key, err := s.loadPageKey()
	if err == nil {
		s.pageKeyCache.Store(&key)
	}
	return key, err
}

// loadPageKey reads the page key from the store, creating it once.
func (s *Service) loadPageKey() ([]byte, error) {
	var key []byte
	err := s.store.Setting(pageKeySetting, &key)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	pageKeyMu.Lock()
	defer pageKeyMu.Unlock()
	if err := s.store.Setting(pageKeySetting, &key); err == nil && len(key) == 32 {
		return key, nil
	}
	key = make([]byte, 32)
	_, _ = rand.Read(key)
	if err := s.store.PutSetting(pageKeySetting, key); err != nil {
		return nil, err
	}
	return key, nil
}

func (s *Service) pageMAC(msg string) []byte {
	key, err := s.pageKey()
	if err != nil {
		s.log.Error("page key", "error", err)
		return nil
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// csrfToken is the CSRF token of c's session: base64url(HMAC-SHA256(key,
// "csrf:" + hex(session id))). It is "" when the key cannot be read, and
// then no form is accepted.
func (s *Service) csrfToken(c *caller) string {
	mac := s.pageMAC("csrf:" + c.SessionID.String())
	if mac == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(mac)
}

// csrfValid checks a submitted token in constant time.
func (s *Service) csrfValid(c *caller, tok string) bool {
	want := s.csrfToken(c)
	return want != "" && hmac.Equal([]byte(tok), []byte(want))
}

// setFlash leaves msg for the next page c opens in this browser.
func (s *Service) setFlash(w http.ResponseWriter, c *caller, msg string) {
	msg = truncate(msg, 300)
	mac := s.pageMAC("flash:" + c.SessionID.String() + ":" + msg)
	if mac == nil {
		return
	}
	cookieFlash.set(w, s.cookie, base64.RawURLEncoding.EncodeToString([]byte(msg))+"."+base64.RawURLEncoding.EncodeToString(mac))
}

// takeFlash returns the flash message left for c, if genuine, and clears it.
func (s *Service) takeFlash(w http.ResponseWriter, r *http.Request, c *caller) string {
	v, ok := cookieFlash.read(r, s.cookie)
	if !ok {
		return ""
	}
	cookieFlash.clear(w, s.cookie)
	b64msg, b64mac, ok := strings.Cut(v, ".")
	if !ok {
		return ""
	}
	msg, err1 := base64.RawURLEncoding.DecodeString(b64msg)
	mac, err2 := base64.RawURLEncoding.DecodeString(b64mac)
	if err1 != nil || err2 != nil {
		return ""
	}
	want := s.pageMAC("flash:" + c.SessionID.String() + ":" + string(msg))
	if want == nil || !hmac.Equal(mac, want) {
		return ""
	}
	return string(msg)
}

// done ends a successful form: a flash message and a 303 to the page to.
func (s *Service) done(w http.ResponseWriter, r *http.Request, c *caller, to, msg string) {
	if msg != "" {
		s.setFlash(w, c, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
