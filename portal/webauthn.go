package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// A WebAuthn ceremony (registration or sign-in) spans two requests: its
// state (the library's SessionData, with the challenge) waits in a
// single-use token of this kind, named by a short-lived cookie.
const (
	tokenKindWebAuthn = "webauthn"
	ceremonyLifetime  = 5 * time.Minute
)

// What a ceremony is for (Token.Data["purpose"]).
const (
	purposeRegister     = "register"
	purposeSecondFactor = "second_factor"
	purposePasskey      = "passkey"
)

// Default names of new keys.
const (
	defaultKeyName     = "Security key"
	defaultPasskeyName = "Passkey"
)

var (
	// errNoCeremony: no live ceremony state for this request.
	errNoCeremony = errors.New("no security key request in progress: start again")
	// errKeyRefused is the one answer to a sign-in with a security key or
	// passkey that failed; the audit log keeps the reason.
	errKeyRefused = errors.New("the security key or passkey was not accepted")
	// errCounter: the signature counter did not move forward.
	errCounter = errors.New("signature counter did not increase")
)

// unavailableError answers WebAuthn calls on a portal whose host cannot be
// a relying party ID (an IP address); it maps to 404.
type unavailableError struct{}

// Error says why WebAuthn is off.
func (unavailableError) Error() string {
	return "security keys and passkeys are not available: the portal must be reached by a domain name, not an IP address"
}

// Unwrap makes it a 404.
func (unavailableError) Unwrap() error { return ErrNotFound }

// waRP is the WebAuthn relying party (an alias, so portal.go needs no
// import of the library).
type waRP = webauthn.WebAuthn

// newRelyingParty makes the WebAuthn relying party of a portal: its ID is
// the cookie domain when there is one (so a key works on every host under
// it), else the portal's host; the only origin accepted is the portal's.
func newRelyingParty(portal *url.URL, cookieDomain string) (*webauthn.WebAuthn, error) {
	rpID := cookieDomain
	if rpID == "" {
		rpID = portal.Hostname()
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         "Gatehouse",
		RPOrigins:             []string{portal.String()},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: ceremonyLifetime, TimeoutUVD: ceremonyLifetime},
			Registration: webauthn.TimeoutConfig{Timeout: ceremonyLifetime, TimeoutUVD: ceremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("portal: webauthn relying party %q: %w", rpID, err)
	}
	return rp, nil
}

// waUser adapts a store.User and their registered keys to webauthn.User.
type waUser struct {
	u     *store.User
	creds []webauthn.Credential
}

func newWAUser(u *store.User, m *store.MFA) *waUser {
	w := &waUser{u: u}
	for _, c := range m.WebAuthn {
		w.creds = append(w.creds, toLibCredential(c))
	}
	return w
}

// WebAuthnID is the user handle: the user's id, which never changes.
func (w *waUser) WebAuthnID() []byte { return []byte(w.u.ID) }

// WebAuthnName is the username.
func (w *waUser) WebAuthnName() string { return w.u.Username }

// WebAuthnDisplayName is the full name, or the username without one.
func (w *waUser) WebAuthnDisplayName() string {
	if w.u.FullName != "" {
		return w.u.FullName
	}
	return w.u.Username
}

// WebAuthnCredentials lists the user's registered keys.
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// toLibCredential maps a stored key to the library's credential record.
func toLibCredential(c store.WebAuthnCredential) webauthn.Credential {
	flags := protocol.FlagUserPresent
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID:              c.ID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(flags),
		Authenticator:   webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

// fromLibCredential maps a newly registered credential to its stored form.
func fromLibCredential(c *webauthn.Credential, name string, passkey bool, now time.Time) store.WebAuthnCredential {
	var transports []string
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	discoverable := passkey
	if c.Extensions.RK != nil {
		discoverable = *c.Extensions.RK
	}
	return store.WebAuthnCredential{
		ID:              c.ID,
		Name:            name,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		AAGUID:          c.Authenticator.AAGUID,
		SignCount:       c.Authenticator.SignCount,
		Transports:      transports,
		Discoverable:    discoverable,
		BackupEligible:  c.Flags.BackupEligible,
		BackupState:     c.Flags.BackupState,
		CreatedAt:       now,
	}
}

// relyingParty returns the service's relying party, or unavailableError.
func (s *Service) relyingParty() (*webauthn.WebAuthn, error) {
	if s.wa == nil {
		return nil, unavailableError{}
	}
	return s.wa, nil
}

// putCeremony stores the state of a ceremony for userID (empty for a
// passkey sign-in, where the user is not known yet) and sets its cookie.
func (s *Service) putCeremony(w http.ResponseWriter, purpose, userID string, sd *webauthn.SessionData, extra map[string]string) error {
	b, err := json.Marshal(sd)
	if err != nil {
		return fmt.Errorf("portal: encode webauthn ceremony: %w", err)
	}
	data := map[string]string{"purpose": purpose, "session": string(b)}
	for k, v := range extra {
		data[k] = v
	}
	secret, hash := core.NewLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindWebAuthn, Hash: hash, UserID: userID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ceremonyLifetime)}
	if err := s.store.PutToken(t); err != nil {
		return fmt.Errorf("portal: store webauthn ceremony: %w", err)
	}
	cookieCeremony.set(w, s.cookie, secret)
	return nil
}

// takeCeremony spends the request's ceremony (single use, whatever comes
// next), clears its cookie and checks it is one of purposes.
func (s *Service) takeCeremony(w http.ResponseWriter, r *http.Request, purposes ...string) (*store.Token, *webauthn.SessionData, error) {
	v, ok := cookieCeremony.read(r, s.cookie)
	if !ok {
		return nil, nil, errNoCeremony
	}
	cookieCeremony.clear(w, s.cookie)
	hash, ok := core.LinkHash(v)
	if !ok {
		return nil, nil, errNoCeremony
	}
	t, err := s.store.ConsumeToken(tokenKindWebAuthn, hash)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, errNoCeremony
		}
		return nil, nil, fmt.Errorf("portal: read webauthn ceremony: %w", err)
	}
	if !slices.Contains(purposes, t.Data["purpose"]) {
		return nil, nil, errNoCeremony
	}
	sd := new(webauthn.SessionData)
	if err := json.Unmarshal([]byte(t.Data["session"]), sd); err != nil {
		return nil, nil, fmt.Errorf("portal: decode webauthn ceremony: %w", err)
	}
	return t, sd, nil
}

// protocolDetail is the safe, short description of a WebAuthn library
// error.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg := pe.Details
		if pe.DevInfo != "" {
			msg += " (" + pe.DevInfo + ")"
		}
		return msg
	}
	return err.Error()
}
