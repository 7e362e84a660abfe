package core

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/store"
)

// decodeKeyID parses an API key id; a malformed one is simply not found.
func decodeKeyID(id string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(id, "="))
	if err != nil || len(b) == 0 {
		return nil, NotFoundf("security key")
	}
	return b, nil
}

// RenameKey relabels one of u's keys.
func (s *Auth) RenameKey(a *Actor, u *store.User, id, name string) (KeyView, error) {
	raw, err := decodeKeyID(id)
	if err != nil {
		return KeyView{}, err
	}
	if name, err = CleanKeyName(name, ""); err != nil {
		return KeyView{}, err
	}
	var out store.WebAuthnCredential
	old := ""
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.IndexFunc(m.WebAuthn, func(c store.WebAuthnCredential) bool { return bytes.Equal(c.ID, raw) })
		if i < 0 {
			return NotFoundf("security key")
		}
		old = m.WebAuthn[i].Name
		m.WebAuthn[i].Name = name
		out = m.WebAuthn[i]
		return nil
	})
	if err != nil {
		return KeyView{}, fmt.Errorf("core: rename security key: %w", err)
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionWebAuthnRename, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: strconv.Quote(old) + " → " + strconv.Quote(name)})
	return KeyViewOf(out), nil
}

// RemoveKey deletes one of u's keys. When it was the last second factor,
// the backup codes go with it.
func (s *Auth) RemoveKey(a *Actor, u *store.User, id string) error {
	raw, err := decodeKeyID(id)
	if err != nil {
		return err
	}
	name := ""
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.IndexFunc(m.WebAuthn, func(c store.WebAuthnCredential) bool { return bytes.Equal(c.ID, raw) })
		if i < 0 {
			return NotFoundf("security key")
		}
		name = m.WebAuthn[i].Name
		m.WebAuthn = slices.Delete(slices.Clone(m.WebAuthn), i, i+1)
		if len(m.WebAuthn) == 0 && len(m.TOTPSecret) == 0 {
			m.BackupCodes = nil
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("core: remove security key: %w", err)
	}
	s.Audit(a, store.Event{Actor: u.Username, Action: ActionWebAuthnRemove, Resource: "user:" + u.Username,
		Outcome: OutcomeSuccess, Reason: strconv.Quote(name)})
	s.Notify(a, u, NoticeFactorRemoved, Say("mail.detail.key_removed", "Name", strconv.Quote(name)))
	return nil
}

// Audit actions of security keys and passkeys.
const (
	ActionWebAuthnAdd     = "2fa.webauthn_add"
	ActionWebAuthnRename  = "2fa.webauthn_rename"
	ActionWebAuthnRemove  = "2fa.webauthn_remove"
	ActionWebAuthnCounter = "2fa.webauthn_counter"
)

// CleanKeyName checks a key's label: 1 to 64 printable characters once
// trimmed. An empty name takes def; with def empty it is an error.
func CleanKeyName(name, def string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		if def == "" {
			return "", Input("name", "must not be empty")
		}
		return def, nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxKeyNameLen {
		return "", Input("name", "must be at most %d characters", maxKeyNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", Input("name", "must contain only printable characters")
		}
	}
	return name, nil
}

// Limits on registered keys.
const (
	maxKeyNameLen  = 64
	MaxKeysPerUser = 32
)
