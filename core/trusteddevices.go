package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/gatehouse-auth/gatehouse/store"
)

// DeviceMAC signs a device entry of the user u (username and id, so a
// cookie does not carry over to a new account that reuses the name).
func (s *Auth) DeviceMAC(u *store.User, nonce []byte) []byte {
	k := hmac.New(sha256.New, s.keyMAC)
	k.Write([]byte("gatehouse device cookies"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(u.Username))
	m.Write([]byte{0})
	m.Write([]byte(u.ID))
	m.Write([]byte{0})
	m.Write(nonce)
	return m.Sum(nil)
}

// TrustedDevice returns the id of the request's trusted device for u: the
// hex nonce of a device cookie entry for u's username whose signature is
// right. It returns "" for an untrusted client.
func (s *Auth) TrustedDevice(a *Actor, u *store.User) string {
	for _, e := range a.Devices {
		if e.Username == u.Username && hmac.Equal(e.MAC, s.DeviceMAC(u, e.Nonce)) {
			return hex.EncodeToString(e.Nonce)
		}
	}
	return ""
}
