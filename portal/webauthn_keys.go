package portal

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/factor"
	"github.com/gatehouse-auth/gatehouse/store"
)

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
func (s accountUI) beginRegistration(w http.ResponseWriter, u *store.User, req RegisterKeyRequest) (*protocol.CredentialCreation, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	def := defaultKeyName
	if req.Passkey {
		def = defaultPasskeyName
	}
	name, err := core.CleanKeyName(req.Name, def)
	if err != nil {
		return nil, err
	}
	m, err := s.store.MFA(u.ID)
	if err != nil {
		return nil, fmt.Errorf("portal: read second factors: %w", err)
	}
	if len(m.WebAuthn) >= core.MaxKeysPerUser {
		return nil, inputErr("", "at most %d security keys and passkeys per account: remove one first", core.MaxKeysPerUser)
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
	// The authenticator shows the relying party's name: the product's.
	creation.Response.RelyingParty.Name = s.core.BrandName()
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
func (s accountUI) finishRegistration(w http.ResponseWriter, r *http.Request, u *store.User) (KeyAdded, error) {
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
		s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionWebAuthnAdd, Resource: "user:" + u.Username,
			Outcome: outcomeFailure, Reason: protocolDetail(err)})
		return KeyAdded{}, inputErr("", "the security key could not be registered: %s", protocolDetail(err))
	}
	sc := fromLibCredential(cred, t.Data["name"], t.Data["passkey"] == "true", s.now())
	codes, hashes := factor.NewBackupCodes()
	first := false
	_, err = s.store.UpdateMFA(u.ID, func(m *store.MFA) error {
		if len(m.WebAuthn) >= core.MaxKeysPerUser {
			return inputErr("", "at most %d security keys and passkeys per account: remove one first", core.MaxKeysPerUser)
		}
		for _, c := range m.WebAuthn {
			if bytes.Equal(c.ID, sc.ID) {
				return core.Conflictf("this security key is registered already")
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
	s.core.Audit(s.requestActor(r), store.Event{Actor: u.Username, Action: core.ActionWebAuthnAdd, Resource: "user:" + u.Username,
		Outcome: outcomeSuccess, Reason: kind + " " + strconv.Quote(sc.Name)})
	s.core.Notify(s.requestActor(r), u, core.NoticeFactorAdded, core.Say("mail.detail."+strings.ReplaceAll(kind, " ", "_")+"_added", "Name", strconv.Quote(sc.Name)))
	out := KeyAdded{KeyView: core.KeyViewOf(sc)}
	if first {
		out.BackupCodes = codes
	}
	return out, nil
}
