package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// App passwords are generated passwords a user makes for the apps that
// cannot do a second factor: LDAP binds, HTTP Basic on a gated app. Each
// has a name, may be limited to one app, and is shown once. Like an API
// key it is stored as an HMAC under the server key (keyHash), so checking
// one costs a hash, not argon2id, and a copy of the database alone cannot
// test guesses.
//
// The secret is "gtap_" then 30 symbols of lower-case Crockford base32
// (0-9 and a-z without i, l, o, u), shown in groups of five:
//
//	gtap_7k2mq-x9d4r-tz0ba-wp6hn-e3vc8-j5fgs
//
// 26 symbols are random (130 bits), the last 4 a CRC-32 checksum of them,
// so a mistyped password is recognised without a lookup. The prefix lets
// secret scanners find leaked ones and lets a surface tell an app password
// from an account password (LooksLikeAppPassword); it differs from API
// keys' "gth_" so neither is ever taken for the other. Typing is
// forgiving: case, dashes and spaces do not matter, and o, i and l read as
// 0, 1 and 1.

// Audit actions of app passwords. A successful use is not audited (it
// would be one synced write per LDAP bind or HTTP request); it is
// recorded as the password's last use.
const (
	ActionAppPasswordCreate = "app_password.create"
	ActionAppPasswordRevoke = "app_password.revoke"
	ActionAppPasswordUse    = "app_password.use"
)

// AppPasswordPrefix starts every app password.
const AppPasswordPrefix = "gtap_"

// MaxAppPasswords is how many app passwords one user may have.
const MaxAppPasswords = 50

const (
	appPWAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	appPWRandom   = 26 // random symbols: 130 bits
	appPWSum      = 4  // checksum symbols: 20 bits of CRC-32
	appPWGroup    = 5  // symbols per group in the display form
	appPWSymbols  = appPWRandom + appPWSum
	// maxAppPWInput bounds what is parsed: the display form is 40 bytes.
	maxAppPWInput = 128
)

// appPWChecksum is the checksum symbols of the random part body.
func appPWChecksum(body string) string {
	out := appPWChecksumOf([]byte(body))
	return string(out[:])
}

// appPWCanon maps a byte typed in an app password to its canonical
// symbol: upper case to lower case, o to 0, i and l to 1; appPWSkip for
// the separators ('-' and ' '), 0 for a byte that is not in one. One
// table lookup per byte keeps the guard's Basic check in its budget.
var appPWCanon = func() (t [256]byte) {
	for i := 0; i < len(appPWAlphabet); i++ {
		c := appPWAlphabet[i]
		t[c] = c
		if c >= 'a' && c <= 'z' {
			t[c-'a'+'A'] = c
		}
	}
	for _, r := range [][2]byte{{'o', '0'}, {'O', '0'}, {'i', '1'}, {'I', '1'}, {'l', '1'}, {'L', '1'}} {
		t[r[0]] = r[1]
	}
	t['-'], t[' '] = appPWSkip, appPWSkip
	return t
}()

// appPWSkip marks a separator in appPWCanon.
const appPWSkip = 1

// appPWPrefixCRC is the CRC-32 of AppPasswordPrefix, which the checksum
// covers before the random part.
var appPWPrefixCRC = crc32.ChecksumIEEE([]byte(AppPasswordPrefix))

// appPWChecksumOf is appPWChecksum without allocating.
func appPWChecksumOf(body []byte) [appPWSum]byte {
	sum := crc32.Update(appPWPrefixCRC, crc32.IEEETable, body)
	var out [appPWSum]byte
	for i := range out {
		out[i] = appPWAlphabet[sum&31]
		sum >>= 5
	}
	return out
}

// newAppPasswordSecret returns a new secret in its display form.
func newAppPasswordSecret() string {
	var b [appPWRandom]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = appPWAlphabet[b[i]&31] // 256 is a multiple of 32: uniform
	}
	syms := string(b[:]) + appPWChecksum(string(b[:]))
	var sb strings.Builder
	sb.WriteString(AppPasswordPrefix)
	for i := 0; i < len(syms); i += appPWGroup {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(syms[i : i+appPWGroup])
	}
	return sb.String()
}

// LooksLikeAppPassword reports whether secret starts like an app password
// (case-insensitively), for a surface that takes both account passwords
// and app passwords in one field (an LDAP bind).
func LooksLikeAppPassword(secret string) bool {
	return len(secret) >= len(AppPasswordPrefix) && strings.EqualFold(secret[:len(AppPasswordPrefix)], AppPasswordPrefix)
}

// canonicalAppPassword is the form of secret that is hashed: the prefix
// and the 30 symbols, lower case, without separators; ok is false when
// secret is not a well-formed app password (shape or checksum).
func canonicalAppPassword(secret string) (canon string, ok bool) {
	b, ok := appendCanonicalAppPassword(make([]byte, 0, len(AppPasswordPrefix)+appPWSymbols), secret)
	if !ok {
		return "", false
	}
	return string(b), true
}

// appendCanonicalAppPassword appends the canonical form of secret to dst
// (see canonicalAppPassword) without allocating when dst has room.
func appendCanonicalAppPassword(dst []byte, secret string) ([]byte, bool) {
	if len(secret) > maxAppPWInput || !LooksLikeAppPassword(secret) {
		return dst, false
	}
	dst = append(dst, AppPasswordPrefix...)
	start := len(dst)
	for i := len(AppPasswordPrefix); i < len(secret); i++ {
		c := appPWCanon[secret[i]]
		switch {
		case c == appPWSkip:
			continue
		case c == 0 || len(dst)-start == appPWSymbols:
			return dst, false
		}
		dst = append(dst, c)
	}
	syms := dst[start:]
	if len(syms) != appPWSymbols || appPWChecksumOf(syms[:appPWRandom]) != [appPWSum]byte(syms[appPWRandom:]) {
		return dst, false
	}
	return dst, true
}

// appPasswordHash is the stored form (keyHash) of the well-formed app
// password secret; ok is false when it is not one, after the same work.
func (s *Credentials) appPasswordHash(secret string) (hash [32]byte, ok bool) {
	m := pooledKeyMAC(&s.keyMACs, s.keyMAC)
	m.in, ok = appendCanonicalAppPassword(m.in[:0], secret)
	if !ok {
		m.in = append(m.in[:0], AppPasswordPrefix...) // the same work as a well-formed one
	}
	hash = m.sum()
	s.keyMACs.Put(m)
	return hash, ok
}

// AppPasswordInput makes an app password.
type AppPasswordInput struct {
	// Name is the owner's name for it: required, at most 64 printable
	// characters.
	Name string `json:"name"`
	// App limits it to one app (an app's name); "" for every app.
	App string `json:"app"`
}

// AppPasswordView is an app password as listed: never the secret, except
// Password in the answer to its creation.
type AppPasswordView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	App        string     `json:"app"`
	Password   string     `json:"password,omitempty"`
	Username   string     `json:"username"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
}

func appPasswordViewOf(p store.AppPassword, username string) AppPasswordView {
	return AppPasswordView{ID: p.ID, Name: p.Name, App: p.App, Username: username, CreatedAt: p.CreatedAt,
		LastUsedAt: TimeOrNil(p.LastUsedAt), LastUsedIP: p.LastUsedIP}
}

// ownCredentialChange is principle 1 inside the core: only the person,
// from their own interactive session, changes how their account proves
// itself (the portal's route table also asks for a fresh proof).
func ownCredentialChange(a *Actor) error {
	switch {
	case a.Anonymous():
		return fmt.Errorf("%w: sign in first", ErrForbidden)
	case a.Key != nil || a.Credential == CredKey:
		return fmt.Errorf("%w: API keys cannot change passwords, second factors or keys: sign in to the portal to do this", ErrForbidden)
	case a.Impersonating():
		return ErrImpersonating
	case a.Credential != CredSession:
		return fmt.Errorf("%w: app passwords are managed from a signed-in portal session", ErrForbidden)
	}
	return nil
}

// CreateAppPassword makes an app password for a (in.App limits it to one
// app) and returns it with its secret, which is never shown again.
// Refused with an API key, during an impersonation and from anything but
// a portal session.
func (s *Credentials) CreateAppPassword(a *Actor, in AppPasswordInput) (AppPasswordView, error) {
	if err := ownCredentialChange(a); err != nil {
		return AppPasswordView{}, err
	}
	rec := store.AppPassword{UserID: a.User.ID, CreatedBy: a.User.ID, Name: strings.TrimSpace(in.Name), App: strings.TrimSpace(in.App)}
	if rec.Name == "" || len([]rune(rec.Name)) > 64 || strings.ContainsFunc(rec.Name, IsControl) {
		return AppPasswordView{}, Input("name", "is required: at most 64 printable characters")
	}
	if rec.App != "" {
		if _, err := s.Access.AppNamed(rec.App); err != nil {
			return AppPasswordView{}, Input("app", "no app called %q", rec.App)
		}
	}
	secret := newAppPasswordSecret()
	canon, _ := canonicalAppPassword(secret)
	rec.Hash = s.keyHash(canon)
	if err := s.store.CreateAppPassword(&rec, MaxAppPasswords); err != nil {
		if errors.Is(err, store.ErrLimit) {
			return AppPasswordView{}, fmt.Errorf("%w: you have %d app passwords, the most there can be; revoke one first", ErrConflict, MaxAppPasswords)
		}
		return AppPasswordView{}, fmt.Errorf("core: create app password: %w", err)
	}
	s.Audit(a, store.Event{Actor: a.User.Username, Action: ActionAppPasswordCreate, Resource: "app_password:" + rec.ID,
		Outcome: OutcomeSuccess, Reason: appPasswordLabel(rec)})
	s.Notify(a, a.User, NoticeAppPassword, Say("mail.detail.label", "Label", strconv.Quote(appPasswordLabel(rec))))
	v := appPasswordViewOf(rec, a.User.Username)
	v.Password = secret
	return v, nil
}

// appPasswordLabel describes p in the audit log: its name and app.
func appPasswordLabel(p store.AppPassword) string {
	if p.App == "" {
		return strconv.Quote(p.Name) + " for every app"
	}
	return strconv.Quote(p.Name) + " for the app " + p.App
}

// ListAppPasswords returns a's own app passwords, newest first, with their
// last use.
func (s *Credentials) ListAppPasswords(a *Actor) ([]AppPasswordView, error) {
	if a.Anonymous() {
		return nil, fmt.Errorf("%w: sign in first", ErrForbidden)
	}
	return s.appPasswordsOf(a.User)
}

func (s *Credentials) appPasswordsOf(u *store.User) ([]AppPasswordView, error) {
	list, err := s.store.AppPasswords(u.ID)
	if err != nil {
		return nil, fmt.Errorf("core: list app passwords: %w", err)
	}
	out := make([]AppPasswordView, 0, len(list))
	for _, p := range list {
		out = append(out, appPasswordViewOf(p, u.Username))
	}
	return out, nil
}

// RevokeAppPassword revokes one of a's own app passwords (ErrNotFound for
// anyone else's: they are not even named). Like creating one, it is
// refused with an API key and during an impersonation.
func (s *Credentials) RevokeAppPassword(a *Actor, id string) error {
	if err := ownCredentialChange(a); err != nil {
		return err
	}
	return s.revokeAppPassword(a, a.User, id)
}

// revokeAppPassword deletes the app password id of u and audits it.
func (s *Credentials) revokeAppPassword(a *Actor, u *store.User, id string) error {
	p, err := s.store.AppPassword(id)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.UserID != u.ID {
		return NotFoundf("app password %q", id)
	}
	if err != nil {
		return fmt.Errorf("core: app password: %w", err)
	}
	if _, err := s.store.DeleteAppPassword(id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFoundf("app password %q", id)
		}
		return fmt.Errorf("core: revoke app password: %w", err)
	}
	reason := appPasswordLabel(p)
	if u.ID != a.User.ID {
		reason = "owner " + u.Username + ", " + reason
	}
	s.Audit(a, store.Event{Actor: a.User.Username, Action: ActionAppPasswordRevoke, Resource: "app_password:" + id,
		Outcome: OutcomeSuccess, Reason: reason})
	return nil
}

// RevokeOwnAppPasswords revokes every app password of a (the profile
// page's password change offers it) and returns how many; why is the
// audit reason.
func (s *Credentials) RevokeOwnAppPasswords(a *Actor, why string) (int, error) {
	if err := ownCredentialChange(a); err != nil {
		return 0, err
	}
	n, err := s.store.DeleteUserAppPasswords(a.User.ID)
	if err != nil {
		return 0, fmt.Errorf("core: revoke app passwords: %w", err)
	}
	if n > 0 {
		s.Audit(a, store.Event{Actor: a.User.Username, Action: ActionAppPasswordRevoke, Resource: "user:" + a.User.Username,
			Outcome: OutcomeSuccess, Reason: "all " + strconv.Itoa(n) + " app passwords: " + why})
	}
	return n, nil
}

// ListUserAppPasswords returns the app passwords of the user ref for an
// administrator holding users.read (names, apps and last use; never a
// secret).
func (s *Credentials) ListUserAppPasswords(a *Actor, ref string) ([]AppPasswordView, error) {
	if err := Need(a, policies.PermUsersRead); err != nil {
		return nil, err
	}
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return nil, err
	}
	return s.appPasswordsOf(u)
}

// SelfAppPasswords is where a caller revokes their own app passwords.
const SelfAppPasswords = "to revoke your own app passwords, use DELETE /api/v1/me/app-passwords/{id} (your profile page)"

// RevokeUserAppPassword revokes the app password id of the user ref on
// behalf of an administrator who may manage them (users.write and
// policies.CanManage): never on their own account, never with an API key,
// never while impersonating.
func (s *Credentials) RevokeUserAppPassword(a *Actor, ref, id string) error {
	if err := Need(a, policies.PermUsersWrite); err != nil {
		return err
	}
	u, err := s.Users.FindUser(ref)
	if err != nil {
		return err
	}
	if err := mayChangeCredentials(a, u, SelfAppPasswords); err != nil {
		return err
	}
	if err := s.Users.MayManage(a, u); err != nil {
		return err
	}
	return s.revokeAppPassword(a, u, id)
}

// appPasswordsGone audits the app passwords of u that the store deleted
// when u was disabled or deleted (n counted before).
func (s *Credentials) appPasswordsGone(a *Actor, u *store.User, n int, why string) {
	if n > 0 {
		s.Audit(a, store.Event{Actor: a.User.Username, Action: ActionAppPasswordRevoke, Resource: "user:" + u.Username,
			Outcome: OutcomeSuccess, Reason: "all " + strconv.Itoa(n) + " app passwords of a " + why + " user"})
	}
}

// countAppPasswords is how many app passwords u has (0 on error: only for
// the audit log).
func (s *Credentials) countAppPasswords(u *store.User) int {
	list, _ := s.store.AppPasswords(u.ID)
	return len(list)
}

// CheckAppPassword is the check of an app password for a surface that
// cannot do a second factor: an LDAP bind (the user's DN, bare username or
// e-mail address as login) or HTTP Basic on a gated app. login is a
// username or an e-mail address; app is the app the password is used for
// ("" when the surface serves no particular app, such as an LDAP client
// not bound to an app).
//
// A password made for every app works for any app and for app ""; one
// limited to an app works only when app names that app — never for "",
// so a password given to one app opens nothing else. Whether the user may
// reach app is not decided here: the surface applies the app's access
// rules to the returned user as for any sign-in.
//
// Every refusal is the same ErrBadCredentials, whatever the reason
// (unknown user, locked account, malformed or wrong password, a password
// of another app, disabled or expired account); the audit log keeps the
// reason (action app_password.use, the real client in a). A wrong or
// malformed password counts toward the account's lockout like a wrong
// account password (Auth.RecordFailureFor), and a locked account is
// refused even with a right password. A success does not clear the count
// (an app syncing every minute would otherwise wipe an attacker's failures
// as fast as they pile up), is not audited, and records the password's
// last use in memory (written in batches). Any other error is a technical
// failure: refuse the client. The secret is never logged.
//
// Cost: one HMAC and a constant-time comparison with each of the user's
// app passwords, from memory, plus a lockout read; a refusal adds one
// synced failure-count write (also for unknown users and locked accounts,
// so timing does not tell them apart) and the audit event.
func (s *Credentials) CheckAppPassword(a *Actor, login, secret, app string) (*store.User, error) {
	acct, err := s.checkAppPassword(a, login, secret, app, s.now())
	if err != nil {
		return nil, err
	}
	u, err := s.store.User(acct.ID)
	if err != nil {
		return nil, fmt.Errorf("core: look up user: %w", err)
	}
	return u, nil
}

// checkAppPassword is CheckAppPassword at now, answering with the owner's
// account: the guard's path reads the in-memory directory only.
func (s *Credentials) checkAppPassword(a *Actor, login, secret, app string, now time.Time) (store.Account, error) {
	login = strings.TrimSpace(login)
	if len(login) > 320 {
		login = login[:320]
	}
	hash, wellFormed := s.appPasswordHash(secret)
	var (
		acct  store.Account
		known bool // acct is the login's account
		err   error
	)
	// A secret typed into the login field must not land in the logs.
	name := policies.NormalizeUsername(login)
	actor := name
	if LooksLikeAppPassword(login) {
		actor = "(an app password as the login)"
	}
	fail := func(reason string, p *store.AppPassword, counts bool) (store.Account, error) {
		e := store.Event{Actor: actor, Action: ActionAppPasswordUse, Outcome: OutcomeFailure, Reason: reason}
		if app != "" {
			e.Reason += " (app " + app + ")"
		}
		switch {
		case p != nil:
			e.Resource = "app_password:" + p.ID
		case known:
			e.Resource = "user:" + acct.Username
		}
		if known {
			e.Actor = acct.Username
		}
		var u *store.User
		if counts {
			u, _ = s.store.User(acct.ID) // gone meanwhile: nothing to lock
		}
		// Fail closed: a failure that cannot be counted is no answer.
		var err error
		if u != nil {
			err = s.Auth.RecordFailureFor(a, u, "", now)
		} else {
			err = s.equalizeFailure(login, now)
		}
		if err != nil {
			return store.Account{}, err
		}
		s.Audit(a, e)
		s.metrics.AppPasswordUse("failure")
		return store.Account{}, ErrBadCredentials
	}
	switch {
	case login == "":
		err = store.ErrNotFound
	case strings.Contains(login, "@"):
		var u *store.User
		if u, err = s.store.UserByEmail(login); err == nil {
			acct = store.AccountOf(u)
		}
	default:
		// From memory: the directory.
		acct, err = s.store.AccountNamed(name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown user", nil, false)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("core: look up user: %w", err)
	}
	known = true
	if locked, err := s.Auth.lockedAt(lockoutKey(acct.ID, ""), now); err != nil {
		return store.Account{}, err
	} else if locked {
		return fail("account locked", nil, false)
	}
	if !wellFormed {
		return fail("not a well-formed app password", nil, true)
	}
	p, err := s.store.MatchAppPassword(acct.ID, hash)
	if errors.Is(err, store.ErrNotFound) {
		return fail("wrong app password", nil, true)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("core: app password: %w", err)
	}
	switch {
	case p.App != "" && p.App != app && app == "":
		return fail("app password limited to the app "+p.App+" used without an app", &p, false)
	case p.App != "" && p.App != app:
		return fail("app password limited to the app "+p.App, &p, false)
	case acct.Disabled:
		// The store deletes them when the account is disabled; one
		// left (say, from a backup) goes now.
		_, _ = s.store.DeleteUserAppPasswords(acct.ID)
		return fail("account disabled", &p, false)
	case !acct.Active(now):
		return fail("account expired", &p, false)
	}
	s.store.TouchAppPassword(p, a.IP, now)
	s.metrics.AppPasswordUse("success")
	return acct, nil
}

// equalizeFailure costs a refusal that counts no failure of an account
// (unknown user, locked account, a right password used for another app)
// the same synced write as one that does, so the time a refusal takes
// does not tell which it was. The count, kept under a digest of the login
// for the lockout duration, is never read. A failed write is an error, as
// RecordFailureFor's is, so the answer does not tell them apart either.
func (s *Credentials) equalizeFailure(login string, now time.Time) error {
	st := s.Settings()
	if st.LockoutThreshold <= 0 {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.ToLower(login)))
	if _, _, err := s.store.AddFailure("nouser:"+hex.EncodeToString(sum[:16]), time.Duration(st.LockoutDuration), now); err != nil {
		s.log.Error("count an app password failure", "error", err)
		return storeDown("count an app password failure", err)
	}
	return nil
}
