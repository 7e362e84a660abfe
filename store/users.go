package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// User is a person who can sign in.
type User struct {
	// ID is random and URL-safe; CreateUser assigns it when empty.
	ID string `json:"id"`
	// Username is stored as given (callers lowercase it); lookups and
	// uniqueness are case-insensitive.
	Username string `json:"username"`
	// Email is optional; lookups and uniqueness are case-insensitive and
	// an empty email is not indexed. It is the verified address: the one
	// apps are told and reset links go to (see PendingEmail).
	Email string `json:"email,omitempty"`
	// PendingEmail is an address the user asked to change to and has not
	// yet confirmed (by the link mailed to it). It is not indexed, not
	// unique and not used for anything but that link; confirming moves it
	// to Email. UpdateUser clears it when Email becomes the same address.
	PendingEmail string `json:"pending_email,omitempty"`
	// FallbackEmail is a second address for account recovery.
	FallbackEmail string `json:"fallback_email,omitempty"`
	// FullName is the display name.
	FullName string `json:"full_name,omitempty"`
	// Role names the user's role (see package policies).
	Role string `json:"role"`
	// Groups is sorted and deduplicated by CreateUser and UpdateUser.
	Groups []string `json:"groups,omitempty"`
	// Disabled users cannot sign in.
	Disabled bool `json:"disabled,omitempty"`
	// PasswordHash is the PHC string of the password (argon2id).
	PasswordHash string `json:"password_hash,omitempty"`
	// PasswordChangedAt is when the password was last set.
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
	// CreatedAt is set by CreateUser (when zero).
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is set by CreateUser and UpdateUser.
	UpdatedAt time.Time `json:"updated_at"`
	// LastLoginAt is when the user last signed in.
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
	// ExpiresAt is when the account stops working; zero means never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Source is where the account comes from: "" for an account of
	// Gatehouse's own, SourceLDAP for a person of the external directory,
	// whose password only the directory checks (it is never stored here).
	Source string `json:"source,omitempty"`
	// ExternalID is the account's entry at its Source (an LDAP DN).
	ExternalID string `json:"external_id,omitempty"`
	// ExternalGroups are the groups the Source gave the account at its
	// last sign-in or synchronisation: the memberships it manages (and
	// takes away again when the Source does), beside the local ones.
	ExternalGroups []string `json:"external_groups,omitempty"`
	// UIDNumber is the user's POSIX uid (and the gid of their private
	// group), handed out once by the store when POSIX ids are on (see
	// SetPosixIDs) and never changed or reused; 0 means none.
	UIDNumber uint32 `json:"uid_number,omitempty"`
	// SSHKeys are the user's SSH public keys, one authorized_keys line
	// each (validated by the core).
	SSHKeys []string `json:"ssh_keys,omitempty"`
	// Language is the language of the user's pages and e-mails, a tag of
	// package internal/i18n ("de"); "" follows the browser.
	Language string `json:"language,omitempty"`
	// TimeZone is the IANA zone the user's pages and e-mails show times
	// in ("Europe/Berlin"); "" is UTC (the profile page suggests the
	// browser's zone).
	TimeZone string `json:"time_zone,omitempty"`

	// groupsCSV is Groups joined with ",", filled by the store so the
	// request path does not allocate.
	groupsCSV string
}

// GroupsHeader returns the groups joined with ",". For users returned by
// the store it is precomputed and does not allocate.
func (u *User) GroupsHeader() string {
	if u.groupsCSV == "" && len(u.Groups) > 0 {
		return strings.Join(u.Groups, ",")
	}
	return u.groupsCSV
}

// Clone returns a deep copy that the caller may modify.
func (u *User) Clone() *User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	c.ExternalGroups = slices.Clone(u.ExternalGroups)
	c.SSHKeys = slices.Clone(u.SSHKeys)
	c.groupsCSV = "" // the caller may change Groups
	return &c
}

// seal normalises the groups and precomputes the header value.
func (u *User) seal() {
	u.Groups = normalizeGroups(u.Groups)
	u.groupsCSV = strings.Join(u.Groups, ",")
}

// normalizeGroups sorts, deduplicates and drops empty names.
func normalizeGroups(g []string) []string {
	if len(g) == 0 {
		return nil
	}
	out := slices.Clone(g)
	slices.Sort(out)
	out = slices.Compact(out)
	if out[0] == "" {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SourceLDAP is the Source of an account of the external LDAP directory.
const SourceLDAP = "ldap"

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random URL-safe identifier: 16 random bytes in lowercase
// base32 without padding (26 characters).
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

func validateUser(u *User) error {
	if strings.TrimSpace(u.Username) == "" {
		return errors.New("empty username")
	}
	if !validName(u.Username) || strings.ContainsRune(u.Email, sep) || strings.ContainsRune(u.PendingEmail, sep) {
		return errors.New("invalid character in username or email")
	}
	if !validName(u.ID) {
		return errors.New("invalid id")
	}
	return nil
}

// CreateUser stores a new user. It assigns u.ID when empty, sets CreatedAt
// (when zero) and UpdatedAt, and normalises Groups. It returns ErrConflict
// when the username or email (case-insensitive) or the id is taken. The
// write is durable when CreateUser returns.
func (s *Store) CreateUser(u *User) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	// Serialised with the writes that rewrite many users (group renames,
	// role deletion), which would not see a user created mid-transaction.
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	if u.ID == "" {
		u.ID = NewID()
	}
	now := s.now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	u.UpdatedAt = now
	u.seal()
	if err := validateUser(u); err != nil {
		return fmt.Errorf("store: create user %q: %w", u.Username, err)
	}
	rec := u.Clone()
	rec.seal()
	gen := s.users.generation()
	posix := s.posix.Load()
	if posix != nil {
		s.posixMu.Lock()
		defer s.posixMu.Unlock()
	}
	err := s.updateSync(func(txn kvTxn) error {
		if err := claim(txn, userKey(rec.ID), "id"); err != nil {
			return err
		}
		rec.UIDNumber = 0 // only ever handed out here, never taken from the caller
		if posix != nil {
			n, err := s.nextPosixID(txn, posix)
			if err != nil {
				return err
			}
			rec.UIDNumber = n
		}
		if err := claim(txn, usernameKey(rec.Username), "username"); err != nil {
			return err
		}
		if rec.Email != "" {
			if err := claim(txn, emailKey(rec.Email), "email"); err != nil {
				return err
			}
			if err := txn.Set(emailKey(rec.Email), []byte(rec.ID)); err != nil {
				return err
			}
		}
		if err := txn.Set(usernameKey(rec.Username), []byte(rec.ID)); err != nil {
			return err
		}
		return put(txn, userKey(rec.ID), rec)
	})
	if err != nil {
		return fmt.Errorf("store: create user %q: %w", u.Username, err)
	}
	u.UIDNumber = rec.UIDNumber
	s.users.insertIfGen(rec, gen)
	s.directory.put(rec)
	return nil
}

// claim fails with ErrConflict if key exists.
func claim(txn kvTxn, key []byte, what string) error {
	ok, err := exists(txn, key)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%s taken: %w", what, ErrConflict)
	}
	return nil
}

// User returns the user with the given id, from memory when cached.
//
// THE RETURNED *User IS SHARED AND READ-ONLY: other goroutines hold the
// same pointer. Call Clone before changing anything (and write changes with
// UpdateUser).
func (s *Store) User(id string) (*User, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := s.cluster.check(); err != nil {
		return nil, err
	}
	if u := s.users.get(id); u != nil {
		return u, nil
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	u, err := s.loadUser(id)
	if err != nil {
		return nil, fmt.Errorf("store: user %q: %w", id, err)
	}
	return u, nil
}

// loadUser reads a user from Badger and caches it. The caller holds enter.
func (s *Store) loadUser(id string) (*User, error) {
	if u := s.users.get(id); u != nil {
		return u, nil
	}
	gen := s.users.generation()
	u := new(User)
	err := s.db.View(func(txn kvTxn) error { return get(txn, userKey(id), u) })
	if err != nil {
		return nil, err
	}
	u.seal()
	s.users.insertIfGen(u, gen)
	return u, nil
}

// UserByUsername returns the user whose username matches name,
// case-insensitively. The result is shared and read-only, as for User.
func (s *Store) UserByUsername(name string) (*User, error) {
	u, err := s.userByIndex(usernameKey(name))
	if err != nil {
		return nil, fmt.Errorf("store: user by username %q: %w", name, err)
	}
	return u, nil
}

// UserByEmail returns the user whose email matches, case-insensitively.
// The result is shared and read-only, as for User.
func (s *Store) UserByEmail(email string) (*User, error) {
	if email == "" {
		return nil, fmt.Errorf("store: user by email %q: %w", email, ErrNotFound)
	}
	u, err := s.userByIndex(emailKey(email))
	if err != nil {
		return nil, fmt.Errorf("store: user by email %q: %w", email, err)
	}
	return u, nil
}

func (s *Store) userByIndex(key []byte) (*User, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var id string
	err := s.db.View(func(txn kvTxn) error {
		item, err := txn.Get(key)
		if errors.Is(err, errKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		id = string(v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.loadUser(id)
}

// DeleteUser removes the user, its index entries, its links to external
// identities and all its sessions. The deletion is durable and no longer
// visible in any cache when it returns.
func (s *Store) DeleteUser(id string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	err := s.updateSync(func(txn kvTxn) error {
		u := new(User)
		if err := get(txn, userKey(id), u); err != nil {
			return err
		}
		if err := deleteIfPointsTo(txn, usernameKey(u.Username), id); err != nil {
			return err
		}
		if u.Email != "" {
			if err := deleteIfPointsTo(txn, emailKey(u.Email), id); err != nil {
				return err
			}
		}
		if err := txn.Delete(mfaKey(id)); err != nil {
			return err
		}
		if err := deleteUserIdentities(txn, id); err != nil {
			return err
		}
		if _, err := deleteUserAppPasswords(txn, id); err != nil {
			return err
		}
		if err := deleteOIDCGrants(txn, id); err != nil {
			return err
		}
		if err := txn.Delete(cat(prefixMailPrefs, id)); err != nil {
			return err
		}
		return txn.Delete(userKey(id))
	})
	s.appPasswords.forgetUser(id)
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", id, err)
	}
	s.users.remove(id)
	s.directory.remove(id)
	if _, err := s.deleteUserSessions(id, nil); err != nil {
		return fmt.Errorf("store: delete user %q: %w", id, err)
	}
	return nil
}

// ListUsers returns up to limit users (50 when limit <= 0) ordered by
// lowercase username, starting after the cursor after (the last username
// of the previous page; "" for the first page). next is the cursor for the
// following page, or "" when there is none. The users are fresh copies.
func (s *Store) ListUsers(after string, limit int) (users []*User, next string, err error) {
	if err := s.enter(); err != nil {
		return nil, "", err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 50
	}
	users, next, err = s.searchUsers(UserFilter{}, after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("store: list users after %q: %w", after, err)
	}
	return users, next, nil
}

// HasUsers reports whether any user exists. Unlike CountUsers it never
// waits for the user directory: it reads one key.
func (s *Store) HasUsers() (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	found := false
	err := s.db.View(func(txn kvTxn) error {
		opts := defaultIterOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(prefixUser)
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: has users: %w", err)
	}
	return found, nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers() (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	n, err := s.countUsers()
	if err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// User record flags (one uvarint in the binary form).
const userDisabled = 1

// appendBinary writes the user's binary form (see binaryEncoder).
func (u *User) appendBinary(b []byte) []byte {
	var flags uint64
	if u.Disabled {
		flags |= userDisabled
	}
	b = appendString(b, u.ID)
	b = appendString(b, u.Username)
	b = appendString(b, u.Email)
	b = appendString(b, u.FallbackEmail)
	b = appendString(b, u.FullName)
	b = appendString(b, u.Role)
	b = appendStrings(b, u.Groups)
	b = binary.AppendUvarint(b, flags)
	b = appendString(b, u.PasswordHash)
	b = appendTime(b, u.PasswordChangedAt)
	b = appendTime(b, u.CreatedAt)
	b = appendTime(b, u.UpdatedAt)
	b = appendTime(b, u.LastLoginAt)
	b = appendTime(b, u.ExpiresAt)
	b = appendString(b, u.PendingEmail)
	b = appendString(b, u.Source)
	b = appendString(b, u.ExternalID)
	b = appendStrings(b, u.ExternalGroups)
	b = binary.AppendUvarint(b, uint64(u.UIDNumber))
	b = appendStrings(b, u.SSHKeys)
	b = appendString(b, u.Language)
	return appendString(b, u.TimeZone)
}

// decodeBinary reads what appendBinary wrote.
func (u *User) decodeBinary(r *recordReader) error {
	*u = User{}
	u.ID = r.str()
	u.Username = r.str()
	u.Email = r.str()
	u.FallbackEmail = r.str()
	u.FullName = r.str()
	u.Role = r.str()
	u.Groups = r.strs()
	u.Disabled = r.uvarint()&userDisabled != 0
	u.PasswordHash = r.str()
	u.PasswordChangedAt = r.time()
	u.CreatedAt = r.time()
	u.UpdatedAt = r.time()
	u.LastLoginAt = r.time()
	u.ExpiresAt = r.time()
	if r.more() { // added later: older records end before it
		u.PendingEmail = r.str()
	}
	if r.more() { // added with the external directory
		u.Source = r.str()
		u.ExternalID = r.str()
		u.ExternalGroups = r.strs()
	}
	if r.more() { // added with POSIX accounts
		n := r.uvarint()
		if n > math.MaxUint32 && r.err == nil {
			r.err = fmt.Errorf("uid number %d out of range", n)
		}
		u.UIDNumber = uint32(n)
		u.SSHKeys = r.strs()
	}
	if r.more() { // added with the languages
		u.Language = r.str()
		u.TimeZone = r.str()
	}
	return r.err
}
