package portal

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

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
func (s secondStepUI) beginLoginCeremony(w http.ResponseWriter, r *http.Request, passkey bool) (*protocol.CredentialAssertion, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	if !passkey {
		if p, err := s.pendingOf(r); err == nil {
			if p.Enroll {
				return nil, core.ErrEnrollRequired
			}
			m, err := s.store.MFA(p.User.ID)
			if err != nil {
				return nil, fmt.Errorf("portal: read second factors: %w", err)
			}
			if len(m.WebAuthn) > 0 {
				assertion, sd, err := rp.BeginLogin(newWAUser(p.User, m), webauthn.WithUserVerification(protocol.VerificationDiscouraged))
				if err != nil {
					return nil, fmt.Errorf("portal: begin webauthn sign-in: %w", err)
				}
				if err := s.putCeremony(w, purposeSecondFactor, p.User.ID, sd, nil); err != nil {
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
// (or core.ErrNoPending, errNoCeremony, core.ErrEnrollRequired), audited with the
// real reason.
func (s secondStepUI) finishLoginCeremony(w http.ResponseWriter, r *http.Request) (*store.User, error) {
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
func (s secondStepUI) finishSecondFactor(w http.ResponseWriter, r *http.Request, rp *webauthn.WebAuthn, t *store.Token, sd *webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData) (*store.User, error) {
	p, err := s.pendingOf(r)
	if err != nil || p.User.ID != t.UserID {
		return nil, core.ErrNoPending
	}
	if p.Enroll {
		return nil, core.ErrEnrollRequired
	}
	device, locked, err := s.secondStepJudge(s.clientActor(r), p.User)
	if err != nil {
		return nil, err
	}
	fail := func(reason string, count bool) (*store.User, error) {
		if count {
			if err := s.core.Auth.RecordFailureFor(s.requestActor(r), p.User, device, s.now()); err != nil {
				return nil, err
			}
		}
		s.core.Audit(s.requestActor(r), store.Event{Actor: p.User.Username, Action: core.ActionSecondFactor, Resource: "user:" + p.User.Username,
			Outcome: outcomeFailure, Reason: reason})
		s.core.Metrics().SecondFactor(core.MethodWebAuthn, "failure")
		return nil, errKeyRefused
	}
	if locked && device != "" {
		return fail("device locked (trusted "+core.DeviceLabel(device)+")", false)
	}
	if locked {
		return fail("account locked", false)
	}
	m, err := s.store.MFA(p.User.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: read second factors: %w", err)
	}
	cred, err := rp.ValidateLogin(newWAUser(p.User, m), *sd, parsed)
	if err != nil {
		return fail("webauthn: "+protocolDetail(err), true)
	}
	if err := s.keyUsed(s.requestActor(r), p.User, cred, parsed); err != nil {
		if errors.Is(err, errCounter) {
			return fail("webauthn: "+err.Error(), true)
		}
		return nil, err
	}
	return s.finishLogin(w, r, p, core.MethodWebAuthn)
}

// finishPasskey is finishLoginCeremony for a passwordless sign-in.
func (s secondStepUI) finishPasskey(w http.ResponseWriter, r *http.Request, rp *webauthn.WebAuthn, sd *webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData) (*store.User, error) {
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
		e := store.Event{Action: core.ActionLogin, Outcome: outcomeFailure, Reason: "passkey: " + reason}
		if found != nil {
			e.Actor, e.Resource = found.Username, "user:"+found.Username
		}
		s.core.Audit(s.requestActor(r), e)
		countSignIn(s.core.Metrics(), core.MethodPasskey, errKeyRefused, reason == "account locked")
		return nil, errKeyRefused
	}
	_, cred, err := rp.ValidatePasskeyLogin(handler, *sd, parsed)
	if err != nil {
		return fail(protocolDetail(err))
	}
	u := found
	device := s.core.Auth.TrustedDevice(s.clientActor(r), u)
	locked, err := s.core.Auth.LockedFor(u, device)
	if err != nil {
		return nil, err
	}
	switch now := s.now(); {
	case locked:
		return fail("account locked")
	case u.Disabled:
		return fail("account disabled")
	case !core.UserActive(u, now):
		return fail("account expired")
	}
	if err := s.keyUsed(s.requestActor(r), u, cred, parsed); err != nil {
		if errors.Is(err, errCounter) {
			return fail(err.Error())
		}
		return nil, err
	}
	if _, err := s.startFullSession(w, r, u, false, []string{core.MethodPasskey}, true); err != nil {
		return nil, fmt.Errorf("portal: start session: %w", err)
	}
	s.core.Auth.ClearFailures(u, device)
	s.trustDevice(w, r, u)
	attemptSucceeded(r.Context())
	if updated, err := s.store.UpdateUser(u.ID, func(u *store.User) error { u.LastLoginAt = s.now(); return nil }); err == nil {
		u = updated
	} else {
		s.log.Error("record login", "user", u.Username, "error", err)
	}
	s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionLogin, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: core.MethodPasskey})
	countSignIn(s.core.Metrics(), core.MethodPasskey, nil, false)
	return u, nil
}

// keyUsed records a verified assertion of cred: its new signature counter,
// backup state and last use. A counter that did not move forward (while
// either value is non-zero) means the key may have been cloned: the
// sign-in is refused with errCounter and audited.
func (s secondStepUI) keyUsed(a *caller, u *store.User, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) error {
	presented := parsed.Response.AuthenticatorData.Counter
	var stored uint32
	now := s.now()
	_, err := s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		i := slices.IndexFunc(m.WebAuthn, func(c store.WebAuthnCredential) bool { return bytes.Equal(c.ID, cred.ID) })
		if i < 0 {
			return core.NotFoundf("security key")
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
		s.core.Audit(a, store.Event{Actor: u.Username, Action: core.ActionWebAuthnCounter, Resource: "user:" + u.Username,
			Outcome: outcomeFailure, Reason: fmt.Sprintf("key %s: stored counter %d, presented %d", core.KeyID(cred.ID), stored, presented)})
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
