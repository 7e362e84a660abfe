package portal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit actions of security keys and passkeys.
const (
	actionWebAuthnAdd     = "2fa.webauthn_add"
	actionWebAuthnRename  = "2fa.webauthn_rename"
	actionWebAuthnRemove  = "2fa.webauthn_remove"
	actionWebAuthnCounter = "2fa.webauthn_counter"
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

// Limits on registered keys.
const (
	maxKeyNameLen  = 64
	maxKeysPerUser = 32
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

// keyID is how the API names a key: its credential id in unpadded base64url.
func keyID(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// keyViewOf describes a stored key.
func keyViewOf(c store.WebAuthnCredential) KeyView {
	return KeyView{ID: keyID(c.ID), Name: c.Name, Passkey: c.Discoverable, CreatedAt: c.CreatedAt, LastUsedAt: timeOrNil(c.LastUsedAt)}
}

// cleanKeyName checks a key's label: 1 to 64 printable characters once
// trimmed. An empty name takes def; with def empty it is an error.
func cleanKeyName(name, def string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		if def == "" {
			return "", inputErr("name", "must not be empty")
		}
		return def, nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxKeyNameLen {
		return "", inputErr("name", "must be at most %d characters", maxKeyNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", inputErr("name", "must contain only printable characters")
		}
	}
	return name, nil
}

// relyingParty returns the service's relying party, or unavailableError.
func (s *Service) relyingParty() (*webauthn.WebAuthn, error) {
	if s.wa == nil {
		return nil, unavailableError{}
	}
	return s.wa, nil
}

func (s *Service) ceremonyCookieName() string { return s.cookie.name + "_wa" }

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
	secret, hash := newLinkSecret()
	now := s.now()
	t := &store.Token{Kind: tokenKindWebAuthn, Hash: hash, UserID: userID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ceremonyLifetime)}
	if err := s.store.PutToken(t); err != nil {
		return fmt.Errorf("portal: store webauthn ceremony: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookieName(), Value: secret, Path: "/", MaxAge: int(ceremonyLifetime.Seconds()),
		HttpOnly: true, Secure: s.cookie.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// takeCeremony spends the request's ceremony (single use, whatever comes
// next), clears its cookie and checks it is one of purposes.
func (s *Service) takeCeremony(w http.ResponseWriter, r *http.Request, purposes ...string) (*store.Token, *webauthn.SessionData, error) {
	ck, err := r.Cookie(s.ceremonyCookieName())
	if err != nil {
		return nil, nil, errNoCeremony
	}
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.cookie.secure, SameSite: http.SameSiteLaxMode})
	hash, ok := linkHash(ck.Value)
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

// RegisterKeyRequest starts adding a security key or passkey.
type RegisterKeyRequest struct {
	// Name labels the key; default "Security key" or "Passkey".
	Name string `json:"name"`
	// Passkey asks for a discoverable credential that signs in without
	// a password; false registers a security key for the second step.
	Passkey bool `json:"passkey"`
}

// beginRegistration starts registering a key for u and returns the
// options for navigator.credentials.create.
func (s *Service) beginRegistration(w http.ResponseWriter, u *store.User, req RegisterKeyRequest) (*protocol.CredentialCreation, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	def := defaultKeyName
	if req.Passkey {
		def = defaultPasskeyName
	}
	name, err := cleanKeyName(req.Name, def)
	if err != nil {
		return nil, err
	}
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: read second factors: %w", err)
	}
	if len(m.WebAuthn) >= maxKeysPerUser {
		return nil, inputErr("", "at most %d security keys and passkeys per account: remove one first", maxKeysPerUser)
	}
	wu := newWAUser(u, m)
	sel := protocol.AuthenticatorSelection{
		ResidentKey:        protocol.ResidentKeyRequirementDiscouraged,
		RequireResidentKey: protocol.ResidentKeyNotRequired(),
		UserVerification:   protocol.VerificationDiscouraged,
	}
	if req.Passkey {
		sel = protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		}
	}
	creation, sd, err := rp.BeginRegistration(wu,
		webauthn.WithAuthenticatorSelection(sel),
		webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return nil, fmt.Errorf("portal: begin webauthn registration: %w", err)
	}
	if err := s.putCeremony(w, purposeRegister, u.ID, sd, map[string]string{"name": name, "passkey": strconv.FormatBool(req.Passkey)}); err != nil {
		return nil, err
	}
	return creation, nil
}

// KeyAdded is a newly registered key. When it is the account's first
// second factor, it comes with a fresh set of backup codes, shown once.
type KeyAdded struct {
	KeyView
	BackupCodes []string `json:"backup_codes,omitempty"`
}

// finishRegistration checks the browser's answer to beginRegistration
// (body) and stores the new key of u.
func (s *Service) finishRegistration(w http.ResponseWriter, r *http.Request, u *store.User) (KeyAdded, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return KeyAdded{}, err
	}
	t, sd, err := s.takeCeremony(w, r, purposeRegister)
	if errors.Is(err, errNoCeremony) || (err == nil && t.UserID != u.ID) {
		return KeyAdded{}, inputErr("", "%v", errNoCeremony)
	}
	if err != nil {
		return KeyAdded{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(r.Body)
	if err != nil {
		return KeyAdded{}, inputErr("", "the browser's answer could not be read: %s", protocolDetail(err))
	}
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return KeyAdded{}, fmt.Errorf("portal: read second factors: %w", err)
	}
	cred, err := rp.CreateCredential(newWAUser(u, m), *sd, parsed)
	if err != nil {
		s.audit(r, store.Event{Actor: u.Username, Action: actionWebAuthnAdd, Resource: "user:" + u.Username,
			Outcome: outcomeFailure, Reason: protocolDetail(err)})
		return KeyAdded{}, inputErr("", "the security key could not be registered: %s", protocolDetail(err))
	}
	sc := fromLibCredential(cred, t.Data["name"], t.Data["passkey"] == "true", s.now())
	codes, hashes := newBackupCodes()
	first := false
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		if len(m.WebAuthn) >= maxKeysPerUser {
			return inputErr("", "at most %d security keys and passkeys per account: remove one first", maxKeysPerUser)
		}
		for _, c := range m.WebAuthn {
			if bytes.Equal(c.ID, sc.ID) {
				return fmt.Errorf("this security key is registered already: %w", ErrConflict)
			}
		}
		if first = !m.Active(); first {
			m.BackupCodes = hashes
		}
		m.WebAuthn = append(m.WebAuthn, sc)
		return nil
	})
	if err != nil {
		return KeyAdded{}, fmt.Errorf("portal: store security key: %w", err)
	}
	kind := "security key"
	if sc.Discoverable {
		kind = "passkey"
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionWebAuthnAdd, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: kind + " " + strconv.Quote(sc.Name)})
	out := KeyAdded{KeyView: keyViewOf(sc)}
	if first {
		out.BackupCodes = codes
	}
	return out, nil
}

// decodeKeyID parses an API key id; a malformed one is simply not found.
func decodeKeyID(id string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(id, "="))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("security key: %w", ErrNotFound)
	}
	return b, nil
}

// renameKey relabels one of u's keys.
func (s *Service) renameKey(r *http.Request, u *store.User, id, name string) (KeyView, error) {
	raw, err := decodeKeyID(id)
	if err != nil {
		return KeyView{}, err
	}
	if name, err = cleanKeyName(name, ""); err != nil {
		return KeyView{}, err
	}
	var out store.WebAuthnCredential
	old := ""
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.IndexFunc(m.WebAuthn, func(c store.WebAuthnCredential) bool { return bytes.Equal(c.ID, raw) })
		if i < 0 {
			return fmt.Errorf("security key: %w", ErrNotFound)
		}
		old = m.WebAuthn[i].Name
		m.WebAuthn[i].Name = name
		out = m.WebAuthn[i]
		return nil
	})
	if err != nil {
		return KeyView{}, fmt.Errorf("portal: rename security key: %w", err)
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionWebAuthnRename, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: strconv.Quote(old) + " → " + strconv.Quote(name)})
	return keyViewOf(out), nil
}

// removeKey deletes one of u's keys. When it was the last second factor,
// the backup codes go with it.
func (s *Service) removeKey(r *http.Request, u *store.User, id string) error {
	raw, err := decodeKeyID(id)
	if err != nil {
		return err
	}
	name := ""
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.IndexFunc(m.WebAuthn, func(c store.WebAuthnCredential) bool { return bytes.Equal(c.ID, raw) })
		if i < 0 {
			return fmt.Errorf("security key: %w", ErrNotFound)
		}
		name = m.WebAuthn[i].Name
		m.WebAuthn = slices.Delete(slices.Clone(m.WebAuthn), i, i+1)
		if len(m.WebAuthn) == 0 && len(m.TOTPSecret) == 0 {
			m.BackupCodes = nil
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("portal: remove security key: %w", err)
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionWebAuthnRemove, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: strconv.Quote(name)})
	return nil
}

// LoginKeyRequest optionally picks the kind of sign-in
// POST /api/v1/login/webauthn/begin starts.
type LoginKeyRequest struct {
	// Passkey forces a passwordless passkey sign-in even when a
	// password sign-in is waiting for its second step.
	Passkey bool `json:"passkey"`
}

// beginLoginCeremony starts a sign-in with a key: the second step of the
// request's pending login when there is one and its user has keys (and
// passkey is false), else a passkey sign-in for whoever the
// authenticator says.
func (s *Service) beginLoginCeremony(w http.ResponseWriter, r *http.Request, passkey bool) (*protocol.CredentialAssertion, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	if !passkey {
		if p, err := s.pendingOf(r); err == nil {
			if p.enroll {
				return nil, errEnrollRequired
			}
			m, err := s.store.MFA(p.user.ID)
			if err != nil {
				return nil, fmt.Errorf("portal: read second factors: %w", err)
			}
			if len(m.WebAuthn) > 0 {
				assertion, sd, err := rp.BeginLogin(newWAUser(p.user, m), webauthn.WithUserVerification(protocol.VerificationDiscouraged))
				if err != nil {
					return nil, fmt.Errorf("portal: begin webauthn sign-in: %w", err)
				}
				if err := s.putCeremony(w, purposeSecondFactor, p.user.ID, sd, nil); err != nil {
					return nil, err
				}
				return assertion, nil
			}
		}
	}
	// A passkey stands for both factors (something you have, unlocked by
	// something you know or are), so the authenticator must verify the user.
	assertion, sd, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("portal: begin passkey sign-in: %w", err)
	}
	if err := s.putCeremony(w, purposePasskey, "", sd, nil); err != nil {
		return nil, err
	}
	return assertion, nil
}

// finishLoginCeremony checks the browser's answer to beginLoginCeremony
// and, when right, signs the user in. Every refusal is errKeyRefused
// (or errNoPending, errNoCeremony, errEnrollRequired), audited with the
// real reason.
func (s *Service) finishLoginCeremony(w http.ResponseWriter, r *http.Request) (*store.User, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	t, sd, err := s.takeCeremony(w, r, purposeSecondFactor, purposePasskey)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(r.Body)
	if err != nil {
		return nil, inputErr("", "the browser's answer could not be read: %s", protocolDetail(err))
	}
	if t.Data["purpose"] == purposePasskey {
		return s.finishPasskey(w, r, rp, sd, parsed)
	}
	return s.finishSecondFactor(w, r, rp, t, sd, parsed)
}

// finishSecondFactor is finishLoginCeremony for the second step of a
// password sign-in.
func (s *Service) finishSecondFactor(w http.ResponseWriter, r *http.Request, rp *webauthn.WebAuthn, t *store.Token, sd *webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData) (*store.User, error) {
	p, err := s.pendingOf(r)
	if err != nil || p.user.ID != t.UserID {
		return nil, errNoPending
	}
	if p.enroll {
		return nil, errEnrollRequired
	}
	device, locked, err := s.secondStepJudge(r, p.user)
	if err != nil {
		return nil, err
	}
	fail := func(reason string, count bool) (*store.User, error) {
		if count {
			s.recordFailureFor(r, p.user, device, s.now())
		}
		s.audit(r, store.Event{Actor: p.user.Username, Action: actionSecondFactor, Resource: "user:" + p.user.Username,
			Outcome: outcomeFailure, Reason: reason})
		return nil, errKeyRefused
	}
	if locked && device != "" {
		return fail("device locked (trusted "+deviceLabel(device)+")", false)
	}
	if locked {
		return fail("account locked", false)
	}
	m, err := s.store.MFA(p.user.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: read second factors: %w", err)
	}
	cred, err := rp.ValidateLogin(newWAUser(p.user, m), *sd, parsed)
	if err != nil {
		return fail("webauthn: "+protocolDetail(err), true)
	}
	if err := s.keyUsed(r, p.user, cred, parsed); err != nil {
		if errors.Is(err, errCounter) {
			return fail("webauthn: "+err.Error(), true)
		}
		return nil, err
	}
	return s.finishLogin(w, r, p, methodWebAuthn)
}

// finishPasskey is finishLoginCeremony for a passwordless sign-in.
func (s *Service) finishPasskey(w http.ResponseWriter, r *http.Request, rp *webauthn.WebAuthn, sd *webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData) (*store.User, error) {
	var found *store.User
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		id := string(userHandle)
		if !wellFormedUserID(id) {
			return nil, errors.New("unknown user handle")
		}
		u, err := s.store.User(id)
		if err != nil {
			return nil, fmt.Errorf("look up user handle: %w", err)
		}
		m, err := s.store.MFA(u.ID)
		if err != nil {
			return nil, fmt.Errorf("read second factors: %w", err)
		}
		found = u
		return newWAUser(u, m), nil
	}
	fail := func(reason string) (*store.User, error) {
		e := store.Event{Action: actionLogin, Outcome: outcomeFailure, Reason: "passkey: " + reason}
		if found != nil {
			e.Actor, e.Resource = found.Username, "user:"+found.Username
		}
		s.audit(r, e)
		return nil, errKeyRefused
	}
	_, cred, err := rp.ValidatePasskeyLogin(handler, *sd, parsed)
	if err != nil {
		return fail(protocolDetail(err))
	}
	u := found
	device := s.trustedDevice(r, u)
	locked, err := s.lockedFor(u, device)
	if err != nil {
		return nil, err
	}
	switch now := s.now(); {
	case locked:
		return fail("account locked")
	case u.Disabled:
		return fail("account disabled")
	case !userActive(u, now):
		return fail("account expired")
	}
	if err := s.keyUsed(r, u, cred, parsed); err != nil {
		if errors.Is(err, errCounter) {
			return fail(err.Error())
		}
		return nil, err
	}
	if _, err := s.startFullSession(w, r, u, false, []string{methodPasskey}, true); err != nil {
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	s.clearFailures(u, device)
	s.trustDevice(w, r, u)
	attemptSucceeded(r)
	if updated, err := s.store.UpdateUser(u.ID, func(u *store.User) error { u.LastLoginAt = s.now(); return nil }); err == nil {
		u = updated
	} else {
		s.log.Error("record login", "user", u.Username, "error", err)
	}
	s.audit(r, store.Event{Actor: u.Username, Action: actionLogin, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: methodPasskey})
	return u, nil
}

// keyUsed records a verified assertion of cred: its new signature counter,
// backup state and last use. A counter that did not move forward (while
// either value is non-zero) means the key may have been cloned: the
// sign-in is refused with errCounter and audited.
func (s *Service) keyUsed(r *http.Request, u *store.User, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) error {
	presented := parsed.Response.AuthenticatorData.Counter
	var stored uint32
	now := s.now()
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.IndexFunc(m.WebAuthn, func(c store.WebAuthnCredential) bool { return bytes.Equal(c.ID, cred.ID) })
		if i < 0 {
			return fmt.Errorf("security key: %w", ErrNotFound)
		}
		c := &m.WebAuthn[i]
		stored = c.SignCount
		if cred.Authenticator.CloneWarning || ((presented != 0 || stored != 0) && presented <= stored) {
			return errCounter
		}
		c.SignCount, c.LastUsedAt, c.BackupState = presented, now, cred.Flags.BackupState
		return nil
	})
	if errors.Is(err, errCounter) {
		s.audit(r, store.Event{Actor: u.Username, Action: actionWebAuthnCounter, Resource: "user:" + u.Username,
			Outcome: outcomeFailure, Reason: fmt.Sprintf("key %s: stored counter %d, presented %d", keyID(cred.ID), stored, presented)})
		return fmt.Errorf("%w (stored %d, presented %d)", errCounter, stored, presented)
	}
	if err != nil {
		return fmt.Errorf("portal: record security key use: %w", err)
	}
	return nil
}

// wellFormedUserID accepts what store.NewID makes (and nothing that could
// reach the store as a strange key).
func wellFormedUserID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
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
