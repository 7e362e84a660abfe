package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/core/factor"
	"github.com/gatehouse-auth/gatehouse/core/password"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// softKey is a software authenticator: one ES256 credential, "none"
// attestation, and a signature counter the test sets, so it can present a
// counter that goes backwards like a cloned key would.
type softKey struct {
	t       *testing.T
	origin  string
	rpID    string
	id      []byte
	priv    *ecdsa.PrivateKey
	user    []byte // the user handle, kept for passkey assertions
	counter uint32
	be, bs  bool // backup eligible / backed up
}

func newSoftKey(t *testing.T, origin, rpID string) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{t: t, origin: origin, rpID: rpID, id: id, priv: priv}
}

var b64 = base64.RawURLEncoding

// Authenticator data flags.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func (k *softKey) authData(flags byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	if k.be {
		flags |= flagBE
	}
	if k.bs {
		flags |= flagBS
	}
	out := append(rp[:], flags)
	return binary.BigEndian.AppendUint32(out, k.counter)
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// options is the part of a begin answer the authenticator reads.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		UserVerification   string                `json:"userVerification"`
		AllowCredentials   []struct{ ID string } `json:"allowCredentials"`
		ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
	} `json:"publicKey"`
}

// create answers registration options like navigator.credentials.create.
func (k *softKey) create(body string, flags byte) string {
	k.t.Helper()
	o := decodeBody[options](k.t, body)
	if o.PublicKey.RP.ID != k.rpID {
		k.t.Fatalf("rp.id = %q, want %q", o.PublicKey.RP.ID, k.rpID)
	}
	user, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		k.t.Fatalf("user.id: %v", err)
	}
	k.user = user
	em, _ := cbor.CTAP2EncOptions().EncMode()
	cose, err := em.Marshal(map[int]any{1: 2, 3: -7, -1: 1,
		-2: k.priv.X.FillBytes(make([]byte, 32)), -3: k.priv.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		k.t.Fatal(err)
	}
	ad := k.authData(flags | flagAT)
	ad = append(ad, make([]byte, 16)...) // AAGUID: zero
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.id)))
	ad = append(append(ad, k.id...), cose...)
	att, err := em.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(k.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return string(b)
}

// get answers assertion options like navigator.credentials.get, with the
// key's current counter.
func (k *softKey) get(body string, flags byte) string {
	k.t.Helper()
	o := decodeBody[options](k.t, body)
	ad := k.authData(flags)
	cd := k.clientData("webauthn.get", o.PublicKey.Challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	resp := map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(ad),
		"signature":         b64.EncodeToString(sig),
	}
	if k.user != nil {
		resp["userHandle"] = b64.EncodeToString(k.user)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id),
		"type": "public-key", "response": resp, "clientExtensionResults": map[string]any{}})
	return string(b)
}

// register adds k to the signed-in account of c.
func (k *softKey) register(c *client, name string, passkey bool) KeyAdded {
	k.t.Helper()
	req, _ := json.Marshal(RegisterKeyRequest{Name: name, Passkey: passkey})
	got, body := c.call("POST", "/api/v1/me/webauthn/register/begin", string(req))
	if got != 200 {
		k.t.Fatalf("register begin: %d %s", got, body)
	}
	flags := byte(flagUP)
	if passkey {
		flags |= flagUV
	}
	got, body = c.call("POST", "/api/v1/me/webauthn/register/finish", k.create(body, flags))
	if got != 201 {
		k.t.Fatalf("register finish: %d %s", got, body)
	}
	return decodeBody[KeyAdded](k.t, body)
}

// signIn runs begin and finish of a key sign-in and returns finish's
// status and body.
func (k *softKey) signIn(c *client, beginBody string, flags byte) (int, string) {
	k.t.Helper()
	got, body := c.call("POST", "/api/v1/login/webauthn/begin", beginBody)
	if got != 200 {
		k.t.Fatalf("login begin: %d %s", got, body)
	}
	return c.call("POST", "/api/v1/login/webauthn/finish", k.get(body, flags))
}

func auditCount(t *testing.T, st *store.Store, action, outcome string) int {
	t.Helper()
	evs, _, err := st.ListAudit(store.AuditFilter{Action: action}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action && (outcome == "" || e.Outcome == outcome) {
			n++
		}
	}
	return n
}

// TestWebAuthnRelyingParty: the RP ID is the cookie domain when set, else
// the portal host; on an IP address WebAuthn is off and says so.
func TestWebAuthnRelyingParty(t *testing.T) {
	tests := []struct {
		portal, domain, want string
	}{
		{"https://auth.example.com", "", "auth.example.com"},
		{"https://auth.example.com", "example.com", "example.com"},
		{"https://auth.example.com", ".Example.com", "example.com"},
		{"http://localhost:8080", "", "localhost"},
		{"http://127.0.0.1:8080", "", ""},
		{"http://[::1]:8080", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.portal+" "+tt.domain, func(t *testing.T) {
			st, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			pu, _ := url.Parse(tt.portal)
			svc, err := New(Options{Store: st, PortalURL: pu, CookieDomain: tt.domain,
				Hasher: password.NewHasher(password.HasherOptions{Params: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if svc.wa != nil {
					t.Fatalf("relying party on an IP address: %+v", svc.wa.Config)
				}
				c := newClient(t, svc)
				got, body := c.call("POST", "/api/v1/login/webauthn/begin", "")
				if got != 404 || !strings.Contains(body, "domain name") {
					t.Fatalf("begin on an IP portal: %d %s", got, body)
				}
				return
			}
			if svc.wa == nil {
				t.Fatal("no relying party")
			}
			if svc.wa.Config.RPID != tt.want || len(svc.wa.Config.RPOrigins) != 1 || svc.wa.Config.RPOrigins[0] != pu.String() {
				t.Fatalf("rp = %q %v, want %q [%s]", svc.wa.Config.RPID, svc.wa.Config.RPOrigins, tt.want, pu)
			}
			// The options the browser gets name the same RP.
			c := newClient(t, svc)
			got, body := c.call("POST", "/api/v1/login/webauthn/begin", "")
			if got != 200 || decodeBody[options](t, body).PublicKey.RPID != tt.want {
				t.Fatalf("begin: %d %s", got, body)
			}
		})
	}
}

// TestWebAuthnCeremonyState: each step needs its state — a session to
// register, a ceremony cookie to finish — and a ceremony is single-use.
func TestWebAuthnCeremonyState(t *testing.T) {
	svc, _, _ := newTestService(t)
	mustUser(t, svc, "alice", policies.RoleUser)
	anon := newClient(t, svc)

	for _, path := range []string{"/api/v1/me/webauthn/register/begin", "/api/v1/me/webauthn/register/finish"} {
		if got, body := anon.call("POST", path, `{}`); got != 401 {
			t.Errorf("%s without a session: %d %s", path, got, body)
		}
	}
	for _, tt := range []struct{ method, path string }{{"PATCH", "/api/v1/me/webauthn/abc"}, {"DELETE", "/api/v1/me/webauthn/abc"}} {
		if got, _ := anon.call(tt.method, tt.path, `{"name":"x"}`); got != 401 {
			t.Errorf("%s %s without a session: %d", tt.method, tt.path, got)
		}
	}
	// Finishing without a ceremony.
	if got, body := anon.call("POST", "/api/v1/login/webauthn/finish", `{}`); got != 400 || !strings.Contains(body, "start again") {
		t.Errorf("login finish without a ceremony: %d %s", got, body)
	}
	// A passkey sign-in starts without a session or pending login.
	got, body := anon.call("POST", "/api/v1/login/webauthn/begin", "")
	if got != 200 {
		t.Fatalf("passkey begin: %d %s", got, body)
	}
	o := decodeBody[options](t, body)
	if o.PublicKey.Challenge == "" || len(o.PublicKey.AllowCredentials) != 0 || o.PublicKey.UserVerification != "required" {
		t.Fatalf("passkey options: %s", body)
	}
	ck := anon.cookies[DefaultCookieName+"_wa"]
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.MaxAge <= 0 || ck.MaxAge > 300 || ck.Path != "/" {
		t.Fatalf("ceremony cookie = %+v", ck)
	}
	// A malformed answer spends the ceremony: finishing again needs a new one.
	if got, _ := anon.call("POST", "/api/v1/login/webauthn/finish", `{"id":"x"}`); got != 400 {
		t.Errorf("garbage answer: %d", got)
	}
	anon.cookies[ck.Name] = ck // a replayed cookie
	if got, body := anon.call("POST", "/api/v1/login/webauthn/finish", `{}`); got != 400 || !strings.Contains(body, "start again") {
		t.Errorf("replayed ceremony: %d %s", got, body)
	}

	// A registration ceremony is not a sign-in one.
	alice := newClient(t, svc)
	if got, _ := alice.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`); got != 200 {
		t.Fatal(got)
	}
	if got, body := alice.call("POST", "/api/v1/me/webauthn/register/finish", `{}`); got != 400 || !strings.Contains(body, "start again") {
		t.Errorf("register finish without a ceremony: %d %s", got, body)
	}
	if got, body := alice.call("POST", "/api/v1/me/webauthn/register/begin", `{"name":"Key","passkey":false}`); got != 200 {
		t.Fatalf("register begin: %d %s", got, body)
	}
	if got, body := alice.call("POST", "/api/v1/login/webauthn/finish", `{}`); got != 400 || !strings.Contains(body, "start again") {
		t.Errorf("register ceremony used to sign in: %d %s", got, body)
	}
	for _, name := range []string{strings.Repeat("k", 65), "bad\x00name", "tab\tname"} {
		req, _ := json.Marshal(RegisterKeyRequest{Name: name})
		if got, body := alice.call("POST", "/api/v1/me/webauthn/register/begin", string(req)); got != 400 {
			t.Errorf("register begin with name %q: %d %s", name, got, body)
		}
	}
}

// TestWebAuthnSecurityKey: a security key registered on the profile is
// the second step of a password sign-in; the signature counter must move
// forward, or the sign-in is refused and audited; keys are renamed and
// removed, the last one taking the backup codes with it.
func TestWebAuthnSecurityKey(t *testing.T) {
	svc, st, clk := newTestService(t)
	alice := mustUser(t, svc, "alice", policies.RoleUser)
	vault, _ := svc.core.Access.RegisterApp(AppConfig{Name: "vault", Require2FA: true})
	key := newSoftKey(t, "https://auth.example.com", "auth.example.com")

	c := newClient(t, svc)
	if got, _ := c.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`); got != 200 {
		t.Fatal(got)
	}
	added := key.register(c, "  YubiKey 5  ", false)
	kv := added.KeyView
	if kv.Name != "YubiKey 5" || kv.Passkey || kv.ID != b64.EncodeToString(key.id) || kv.LastUsedAt != nil {
		t.Fatalf("key = %+v", kv)
	}
	// The first second factor comes with backup codes that work.
	if len(added.BackupCodes) != core.BackupCodeCount {
		t.Fatalf("backup codes with the first key: %v", added.BackupCodes)
	}
	if mf, _ := st.MFA(alice.ID); len(mf.BackupCodes) != core.BackupCodeCount || mf.BackupCodes[0] != factor.HashBackupCode(added.BackupCodes[0]) {
		t.Fatalf("stored backup codes: %v", mf.BackupCodes)
	}
	if auditCount(t, st, core.ActionWebAuthnAdd, outcomeSuccess) != 1 {
		t.Error("no audit of the new key")
	}
	// The same key again is excluded by the options and refused. The
	// authenticator is told the product's name as the settings say it.
	if _, err := svc.core.UpdateSettings(context.Background(), svc.localAdmin(), []byte(`{"brand_name":"Acme Cloud"}`)); err != nil {
		t.Fatal(err)
	}
	got, body := c.call("POST", "/api/v1/me/webauthn/register/begin", `{}`)
	if got != 200 || len(decodeBody[options](t, body).PublicKey.ExcludeCredentials) != 1 {
		t.Fatalf("exclusions: %d %s", got, body)
	}
	if name := decodeBody[options](t, body).PublicKey.RP.Name; name != "Acme Cloud" {
		t.Errorf("rp.name = %q, want the brand name", name)
	}
	if got, body := c.call("POST", "/api/v1/me/webauthn/register/finish", key.create(body, flagUP)); got != 409 {
		t.Errorf("same key twice: %d %s", got, body)
	}
	f := decodeBody[FactorsView](t, mustCall(t, c, "GET", "/api/v1/me/2fa", "", 200))
	if len(f.WebAuthn) != 1 || f.WebAuthn[0].Name != "YubiKey 5" || !strings.Contains(strings.Join(f.Methods, ","), core.MethodWebAuthn) {
		t.Fatalf("factors = %+v", f)
	}
	mustCall(t, c, "POST", "/api/v1/me/backup-codes", "", 200)
	c.call("POST", "/api/v1/logout", "")

	// Password, then the key.
	passwordStep := func() {
		t.Helper()
		clk.Advance(time.Minute) // the per-IP throttle refills
		got, body := c.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`)
		if got != 200 || !strings.Contains(body, `"second_factor_required":true`) || !strings.Contains(body, `"webauthn"`) {
			t.Fatalf("password step: %d %s", got, body)
		}
	}
	passwordStep()
	got, body = c.call("POST", "/api/v1/login/webauthn/begin", "")
	if got != 200 {
		t.Fatalf("begin: %d %s", got, body)
	}
	o := decodeBody[options](t, body)
	if len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != kv.ID {
		t.Fatalf("allowCredentials: %s", body)
	}
	key.counter = 5
	if got, body := c.call("POST", "/api/v1/login/webauthn/finish", key.get(body, flagUP)); got != 200 || !strings.Contains(body, `"username":"alice"`) {
		t.Fatalf("finish: %d %s", got, body)
	}
	if v := check(svc, vault, c.session()); v.Outcome != Allow {
		t.Fatalf("require_2fa app after the key: %v", v.Outcome)
	}
	f = decodeBody[FactorsView](t, mustCall(t, c, "GET", "/api/v1/me/2fa", "", 200))
	if f.WebAuthn[0].LastUsedAt == nil {
		t.Error("last use not recorded")
	}
	m, _ := st.MFA(alice.ID)
	if m.WebAuthn[0].SignCount != 5 {
		t.Errorf("stored counter = %d, want 5", m.WebAuthn[0].SignCount)
	}

	// A counter that does not go forward: a cloned key. Refused, audited.
	for _, n := range []uint32{5, 3} {
		c.call("POST", "/api/v1/logout", "")
		passwordStep()
		key.counter = n
		if got, body := key.signIn(c, "", flagUP); got != 401 {
			t.Fatalf("counter %d: %d %s", n, got, body)
		}
		if c.session() != nil {
			t.Fatalf("counter %d: a session was issued", n)
		}
	}
	if n := auditCount(t, st, core.ActionWebAuthnCounter, outcomeFailure); n != 2 {
		t.Errorf("counter audits = %d, want 2", n)
	}
	evs, _, _ := st.ListAudit(store.AuditFilter{Action: core.ActionWebAuthnCounter}, "", 1)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "stored counter 5, presented 3") {
		t.Errorf("counter audit = %+v", evs)
	}
	// A wrong signature (another key with the same id) fails and counts.
	clk.Advance(time.Minute)
	evil := newSoftKey(t, key.origin, key.rpID)
	evil.id, evil.counter = key.id, 100
	if got, _ := evil.signIn(c, "", flagUP); got != 401 {
		t.Fatalf("forged signature: %d", got)
	}
	if n := auditCount(t, st, core.ActionSecondFactor, outcomeFailure); n != 3 {
		t.Errorf("second-factor failures audited = %d, want 3", n)
	}
	// The pending login is still there: the real key, moving forward, works.
	key.counter = 6
	if got, body := key.signIn(c, "", flagUP); got != 200 {
		t.Fatalf("counter 6: %d %s", got, body)
	}

	// A locked account is refused even with the right key, from a browser
	// that is not a trusted device of alice (devicecookies.go).
	c.call("POST", "/api/v1/logout", "")
	delete(c.cookies, DefaultCookieName+deviceCookieSuffix)
	passwordStep()
	if err := st.PutLock(alice.ID, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	key.counter = 7
	if got, _ := key.signIn(c, "", flagUP); got != 401 {
		t.Fatalf("locked: %d", got)
	}
	if err := st.ClearLock(alice.ID); err != nil {
		t.Fatal(err)
	}
	key.counter = 8
	if got, body := key.signIn(c, "", flagUP); got != 200 {
		t.Fatalf("unlocked: %d %s", got, body)
	}

	// Rename and remove.
	for _, tt := range []struct {
		id, body string
		want     int
	}{
		{kv.ID, `{"name":""}`, 400},
		{kv.ID, `{"name":"` + strings.Repeat("x", 65) + `"}`, 400},
		{kv.ID, `{"name":"a\u0007b"}`, 400},
		{kv.ID, `{"nom":"x"}`, 400},
		{"AAAA", `{"name":"x"}`, 404},
		{"not*base64", `{"name":"x"}`, 404},
		{kv.ID, `{"name":"Blue key ✓"}`, 200},
	} {
		if got, body := c.call("PATCH", "/api/v1/me/webauthn/"+tt.id, tt.body); got != tt.want {
			t.Errorf("PATCH %s %s: %d %s, want %d", tt.id, tt.body, got, body, tt.want)
		}
	}
	f = decodeBody[FactorsView](t, mustCall(t, c, "GET", "/api/v1/me/2fa", "", 200))
	if f.WebAuthn[0].Name != "Blue key ✓" || f.BackupCodes != core.BackupCodeCount {
		t.Fatalf("after rename: %+v", f)
	}
	if got, _ := c.call("DELETE", "/api/v1/me/webauthn/AAAA", ""); got != 404 {
		t.Errorf("remove unknown: %d", got)
	}
	if got, _ := c.call("DELETE", "/api/v1/me/webauthn/"+kv.ID, ""); got != 204 {
		t.Fatalf("remove: %d", got)
	}
	f = decodeBody[FactorsView](t, mustCall(t, c, "GET", "/api/v1/me/2fa", "", 200))
	if len(f.WebAuthn) != 0 || f.BackupCodes != 0 || len(f.Methods) != 0 {
		t.Fatalf("after removing the last factor: %+v", f)
	}
	if auditCount(t, st, core.ActionWebAuthnRename, outcomeSuccess) != 1 || auditCount(t, st, core.ActionWebAuthnRemove, outcomeSuccess) != 1 {
		t.Error("rename/remove not audited")
	}
	// With no key left, the password alone signs in again.
	c.call("POST", "/api/v1/logout", "")
	clk.Advance(time.Minute)
	if got, body := c.call("POST", "/api/v1/login", `{"username":"alice","password":"`+testPW+`"}`); got != 200 || strings.Contains(body, `"second_factor_required":true`) {
		t.Fatalf("after removal: %d %s", got, body)
	}
}

// TestWebAuthnPasskey: a passkey signs in without a password, only with
// user verification, only for an active account, and gives a two-factor
// session.
func TestWebAuthnPasskey(t *testing.T) {
	svc, st, clk := newTestService(t)
	bob := mustUser(t, svc, "bob", policies.RoleUser)
	vault, _ := svc.core.Access.RegisterApp(AppConfig{Name: "vault", Require2FA: true})
	pk := newSoftKey(t, "https://auth.example.com", "auth.example.com")
	pk.be, pk.bs = true, true // a synced passkey

	c := newClient(t, svc)
	if got, _ := c.call("POST", "/api/v1/login", `{"username":"bob","password":"`+testPW+`"}`); got != 200 {
		t.Fatal(got)
	}
	got, body := c.call("POST", "/api/v1/me/webauthn/register/begin", `{"passkey":true}`)
	o := decodeBody[options](t, body)
	if got != 200 || o.PublicKey.AuthenticatorSelection.ResidentKey != "required" || string(mustB64(t, o.PublicKey.User.ID)) != bob.ID {
		t.Fatalf("passkey options: %d %s", got, body)
	}
	got, body = c.call("POST", "/api/v1/me/webauthn/register/finish", pk.create(body, flagUP|flagUV))
	kv := decodeBody[KeyAdded](t, body)
	if got != 201 || !kv.Passkey || kv.Name != defaultPasskeyName || len(kv.BackupCodes) != core.BackupCodeCount {
		t.Fatalf("passkey: %d %s", got, body)
	}
	// A second key is not a first factor: no new backup codes.
	if spare := newSoftKey(t, pk.origin, pk.rpID).register(c, "Spare", false); len(spare.BackupCodes) != 0 {
		t.Fatalf("backup codes with the second key: %v", spare.BackupCodes)
	}
	c.call("POST", "/api/v1/logout", "")

	// Without user verification: refused.
	pk.counter = 1
	if got, body := pk.signIn(c, "", flagUP); got != 401 || c.session() != nil {
		t.Fatalf("passkey without UV: %d %s", got, body)
	}
	// With it: signed in, with a session good for a require_2fa app.
	pk.counter = 2
	got, body = pk.signIn(c, "", flagUP|flagUV)
	if got != 200 || !strings.Contains(body, `"username":"bob"`) || c.session() == nil {
		t.Fatalf("passkey sign-in: %d %s", got, body)
	}
	if v := check(svc, vault, c.session()); v.Outcome != Allow {
		t.Fatalf("require_2fa app after a passkey: %v", v.Outcome)
	}
	if n := auditCount(t, st, core.ActionLogin, outcomeSuccess); n < 2 {
		t.Errorf("login audits = %d", n)
	}
	// The counter rule holds for passkeys too.
	c.call("POST", "/api/v1/logout", "")
	if got, _ := pk.signIn(c, "", flagUP|flagUV); got != 401 {
		t.Fatalf("same counter again: %d", got)
	}
	// An unknown user handle, a disabled account: refused.
	clk.Advance(time.Minute)
	stranger := newSoftKey(t, pk.origin, pk.rpID)
	stranger.user = []byte(store.NewID())
	if got, _ := stranger.signIn(c, "", flagUP|flagUV); got != 401 {
		t.Fatalf("unknown user handle: %d", got)
	}
	if _, err := st.UpdateUser(bob.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	pk.counter = 10
	if got, _ := pk.signIn(c, "", flagUP|flagUV); got != 401 {
		t.Fatalf("disabled account: %d", got)
	}
	if _, err := st.UpdateUser(bob.ID, func(u *store.User) error { u.Disabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	pk.counter = 11
	if got, body := pk.signIn(c, "", flagUP|flagUV); got != 200 {
		t.Fatalf("re-enabled: %d %s", got, body)
	}
	// {"passkey":true} starts a passkey sign-in even with a pending login
	// of someone else waiting for its second step.
	mustUser(t, svc, "carol", policies.RoleUser)
	carol := newClient(t, svc)
	clk.Advance(time.Minute)
	if got, _ := carol.call("POST", "/api/v1/login", `{"username":"carol","password":"`+testPW+`"}`); got != 200 {
		t.Fatal(got)
	}
	carolKey := newSoftKey(t, pk.origin, pk.rpID)
	carolKey.register(carol, "", false)
	carol.call("POST", "/api/v1/logout", "")
	if got, body := carol.call("POST", "/api/v1/login", `{"username":"carol","password":"`+testPW+`"}`); got != 200 || !strings.Contains(body, `"second_factor_required":true`) {
		t.Fatalf("carol password: %d %s", got, body)
	}
	pk.counter = 12
	if got, body := pk.signIn(carol, `{"passkey":true}`, flagUP|flagUV); got != 200 || !strings.Contains(body, `"username":"bob"`) {
		t.Fatalf("passkey with a pending login: %d %s", got, body)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCall(t *testing.T, c *client, method, path, body string, want int) string {
	t.Helper()
	got, out := c.call(method, path, body)
	if got != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, got, out, want)
	}
	return out
}

// TestWebAuthnPages: the profile lists the keys with rename and remove
// forms that work without JavaScript, and the sign-in pages offer the
// passkey and security-key buttons (and load the script) where they apply.
func TestWebAuthnPages(t *testing.T) {
	svc, st, _ := newTestService(t)
	alice := mustUser(t, svc, "alice", policies.RoleUser)
	ck := login(t, svc, "alice", false)
	page := func(method, path string, form url.Values, cks ...*http.Cookie) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, "https://auth.example.com"+path, body)
		req.Header.Set("Accept", "text/html")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, c := range cks {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), rec.Header().Get("Location")
	}

	// Before any key: the add form, no table.
	got, body, _ := page("GET", "/profile", nil, ck)
	if got != 200 || !strings.Contains(body, `id="add-passkey"`) || !strings.Contains(body, `id="add-security-key"`) ||
		!strings.Contains(body, `src="/assets/webauthn.js"`) || strings.Contains(body, "/profile/webauthn/") {
		t.Fatalf("profile without keys: %d\n%s", got, body)
	}
	if _, err := st.UpdateMFA(alice.ID, func(m *store.MFA) error {
		m.WebAuthn = append(m.WebAuthn, store.WebAuthnCredential{ID: []byte{1, 2, 3}, Name: "Old <key>", PublicKey: []byte{0}, Discoverable: true})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, body, _ = page("GET", "/profile", nil, ck)
	if got != 200 || !strings.Contains(body, "Old &lt;key&gt;") || !strings.Contains(body, `action="/profile/webauthn/AQID/rename"`) ||
		!strings.Contains(body, `action="/profile/webauthn/AQID/remove"`) || !strings.Contains(body, "Passkey</span>") {
		t.Fatalf("profile with a key: %d\n%s", got, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no csrf token")
	}
	csrf := m[1]

	got, body, _ = page("POST", "/profile/webauthn/AQID/rename", url.Values{"csrf": {csrf}, "name": {" "}}, ck)
	if got != 400 || !strings.Contains(body, "The key name must not be empty.") {
		t.Errorf("empty name: %d\n%s", got, body)
	}
	if got, _, _ := page("POST", "/profile/webauthn/AQID/rename", url.Values{"name": {"No token"}}, ck); got != 403 {
		t.Errorf("rename without CSRF token: %d", got)
	}
	if got, _, loc := page("POST", "/profile/webauthn/AQID/rename", url.Values{"csrf": {csrf}, "name": {"Blue key"}}, ck); got != 303 || loc != "/profile" {
		t.Errorf("rename: %d %s", got, loc)
	}
	if mf, _ := st.MFA(alice.ID); mf.WebAuthn[0].Name != "Blue key" {
		t.Errorf("name = %q", mf.WebAuthn[0].Name)
	}

	// The login page offers a passkey; with a key, the second step offers it.
	got, body, _ = page("GET", "/login", nil)
	if got != 200 || !strings.Contains(body, "Sign in with a passkey") || !strings.Contains(body, `src="/assets/webauthn.js"`) {
		t.Fatalf("login page: %d\n%s", got, body)
	}
	req := httptest.NewRequest("POST", "https://auth.example.com/login", strings.NewReader(url.Values{"username": {"alice"}, "password": {testPW}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	if rec.Code != 303 || !strings.HasPrefix(rec.Header().Get("Location"), "/login/2fa") {
		t.Fatalf("password form: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	got, body, _ = page("GET", "/login/2fa", nil, rec.Result().Cookies()...)
	if got != 200 || !strings.Contains(body, "Use your security key") || !strings.Contains(body, `src="/assets/webauthn.js"`) {
		t.Fatalf("second step page: %d\n%s", got, body)
	}

	if got, _, _ := page("POST", "/profile/webauthn/AAAA/remove", url.Values{"csrf": {csrf}}, ck); got != 404 {
		t.Errorf("remove unknown: %d", got)
	}
	if got, _, loc := page("POST", "/profile/webauthn/AQID/remove", url.Values{"csrf": {csrf}}, ck); got != 303 || loc != "/profile" {
		t.Errorf("remove: %d %s", got, loc)
	}
	if mf, _ := st.MFA(alice.ID); len(mf.WebAuthn) != 0 {
		t.Errorf("keys left: %+v", mf.WebAuthn)
	}
	// The script is served.
	if got, body, _ := page("GET", "/assets/webauthn.js", nil); got != 200 || !strings.Contains(body, "navigator.credentials.create") {
		t.Errorf("webauthn.js: %d", got)
	}
}
