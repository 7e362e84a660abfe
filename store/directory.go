package store

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The directory is an in-memory summary of every user — what searches,
// group counts and role lookups need, lowercased — kept sorted by username.
// With it, searching 100,000 users is a walk over a slice instead of a
// Badger scan that decodes every record (tens of milliseconds instead of
// hundreds). It costs about 200 bytes per user.
//
// It is built once, in the background when the store opens (or on first
// use, whichever comes first), while userWriteMu is held; from then on
// every write of users (CreateUser, UpdateUser, DeleteUser, group renames
// and deletions) updates it under userWriteMu after its commit, so it
// always reflects the committed users.

// dirEntry is a user as the directory sees it.
type dirEntry struct {
	id string
	// hay is lower(username) NUL lower(email) NUL lower(full name): a
	// query (which never contains NUL) matches when it is a substring.
	hay string
	// nameLen is the length of the lowercase username at the start of hay.
	nameLen int
	role    string
	// groups are lowercase and interned (shared between entries).
	groups   []string
	disabled bool
	// expires is ExpiresAt in unix nanoseconds; 0 means never.
	expires int64
	// orig is the username, email, full name and groups header as
	// stored, one after the other; ends are where the first three end.
	orig string
	ends [3]uint32
	// ogroups are the groups as stored: the same slice as groups when
	// they are already lowercase (the usual case).
	ogroups []string
	// pwChanged is PasswordChangedAt in unix nanoseconds; 0 means never.
	pwChanged int64
	// uidNumber is User.UIDNumber.
	uidNumber uint32
	// sshKeys is User.SSHKeys.
	sshKeys []string
}

// account returns the entry as an Account, without allocating.
func (e *dirEntry) account() Account {
	i := Account{
		ID:           e.id,
		Username:     e.orig[:e.ends[0]],
		Email:        e.orig[e.ends[0]:e.ends[1]],
		FullName:     e.orig[e.ends[1]:e.ends[2]],
		GroupsHeader: e.orig[e.ends[2]:],
		Role:         e.role,
		Groups:       e.ogroups,
		Disabled:     e.disabled,
		UIDNumber:    e.uidNumber,
		SSHKeys:      e.sshKeys,
	}
	if e.expires != 0 {
		i.ExpiresAt = time.Unix(0, e.expires)
	}
	if e.pwChanged != 0 {
		i.PasswordChangedAt = time.Unix(0, e.pwChanged)
	}
	return i
}

// name returns the lowercase username, the sort key.
func (e *dirEntry) name() string { return e.hay[:e.nameLen] }

// active reports whether the user is enabled and not expired at now.
func (e *dirEntry) active(now int64) bool {
	return !e.disabled && (e.expires == 0 || now < e.expires)
}

// match is UserFilter.Match on an entry; q is the lowercase trimmed query.
func (e *dirEntry) match(f *UserFilter, q string, now int64) bool {
	if q != "" && !strings.Contains(e.hay, q) {
		return false
	}
	if f.Role != "" && e.role != f.Role {
		return false
	}
	if f.Group != "" && !slices.Contains(e.groups, strings.ToLower(f.Group)) {
		return false
	}
	switch f.Status {
	case StatusActive:
		return e.active(now)
	case StatusDisabled:
		return !e.active(now)
	}
	return true
}

// directory is the sorted list of entries plus an interning table for
// group and role names.
type directory struct {
	mu      sync.RWMutex
	entries []*dirEntry // sorted by name()
	byID    map[string]*dirEntry
	intern  map[string]string
	// gids are the groups' POSIX gids by lowercase name (posix.go).
	gids map[string]uint32
	// built is set once the entries reflect the database.
	built atomic.Bool
}

// internString returns the shared copy of s. A new one is cloned: s may be
// part of a whole decoded record, which the directory must not keep alive.
func (d *directory) internString(s string) string {
	if v, ok := d.intern[s]; ok {
		return v
	}
	s = strings.Clone(s)
	d.intern[s] = s
	return s
}

// dirRecord is the part of a User record the directory reads: decoding
// only these fields makes building it about twice as fast.
type dirRecord struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Role      string    `json:"role"`
	Groups    []string  `json:"groups"`
	Disabled  bool      `json:"disabled"`
	ExpiresAt time.Time `json:"expires_at"`
	// PasswordChangedAt is for Account.
	PasswordChangedAt time.Time `json:"password_changed_at"`
	UIDNumber         uint32    `json:"uid_number"`
	SSHKeys           []string  `json:"ssh_keys"`
}

// decodeBinary reads a User's binary form; every field is kept there in one
// string, so reading all of it costs no more than a part.
func (r *dirRecord) decodeBinary(rr *recordReader) error {
	var u User
	err := u.decodeBinary(rr)
	*r = dirRecord{ID: u.ID, Username: u.Username, Email: u.Email, FullName: u.FullName,
		Role: u.Role, Groups: u.Groups, Disabled: u.Disabled, ExpiresAt: u.ExpiresAt,
		PasswordChangedAt: u.PasswordChangedAt, UIDNumber: u.UIDNumber, SSHKeys: u.SSHKeys}
	return err
}

// entryOf summarises u. The caller holds d.mu for writing.
func (d *directory) entryOf(u *User) *dirEntry {
	name := strings.ToLower(u.Username)
	e := &dirEntry{
		id:       strings.Clone(u.ID), // not a part of a whole record
		hay:      name + "\x00" + strings.ToLower(u.Email) + "\x00" + strings.ToLower(u.FullName),
		nameLen:  len(name),
		role:     d.internString(u.Role),
		disabled: u.Disabled,
	}
	if !u.ExpiresAt.IsZero() {
		e.expires = u.ExpiresAt.UnixNano()
	}
	if len(u.Groups) > 0 {
		e.groups = make([]string, 0, len(u.Groups))
		for _, g := range u.Groups {
			lg := d.internString(strings.ToLower(g))
			if !slices.Contains(e.groups, lg) {
				e.groups = append(e.groups, lg)
			}
		}
	}
	e.ogroups = e.groups
	if !slices.Equal(e.groups, u.Groups) {
		e.ogroups = make([]string, len(u.Groups))
		for i, g := range u.Groups {
			e.ogroups[i] = d.internString(g)
		}
	}
	if !u.PasswordChangedAt.IsZero() {
		e.pwChanged = u.PasswordChangedAt.UnixNano()
	}
	e.uidNumber = u.UIDNumber
	if len(u.SSHKeys) > 0 {
		e.sshKeys = make([]string, len(u.SSHKeys))
		for i, k := range u.SSHKeys {
			e.sshKeys[i] = strings.Clone(k) // not a part of a whole record
		}
	}
	e.orig = u.Username + u.Email + u.FullName + strings.Join(u.Groups, ",")
	e.ends = [3]uint32{uint32(len(u.Username)), uint32(len(u.Username) + len(u.Email)),
		uint32(len(u.Username) + len(u.Email) + len(u.FullName))}
	return e
}

// find returns the index of the first entry whose name is >= name.
func (d *directory) find(name string) int {
	i, _ := slices.BinarySearchFunc(d.entries, name, func(e *dirEntry, n string) int {
		return strings.Compare(e.name(), n)
	})
	return i
}

// put adds or replaces u's entry. The caller holds userWriteMu.
func (d *directory) put(u *User) {
	if !d.built.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeLocked(u.ID)
	e := d.entryOf(u)
	i := d.find(e.name())
	d.entries = slices.Insert(d.entries, i, e)
	d.byID[e.id] = e
}

// remove drops the entry of user id. The caller holds userWriteMu.
func (d *directory) remove(id string) {
	if !d.built.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeLocked(id)
}

func (d *directory) removeLocked(id string) {
	e, ok := d.byID[id]
	if !ok {
		return
	}
	delete(d.byID, id)
	for i := d.find(e.name()); i < len(d.entries); i++ {
		if d.entries[i] == e {
			d.entries = slices.Delete(d.entries, i, i+1)
			return
		}
	}
}

// ensureDirectory builds the directory from Badger unless it is built. The
// caller holds enter.
func (s *Store) ensureDirectory() error {
	if s.directory.built.Load() {
		return nil
	}
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	if s.directory.built.Load() {
		return nil
	}
	d := &s.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries, d.byID, d.intern, d.gids = nil, map[string]*dirEntry{}, map[string]string{}, map[string]uint32{}
	err := s.db.View(func(txn kvTxn) error {
		err := scan(txn, []byte(prefixGroup), func(_, v []byte) error {
			var g Group
			if err := decode(v, &g); err != nil {
				return err
			}
			if g.GIDNumber != 0 {
				d.gids[strings.ToLower(g.Name)] = g.GIDNumber
			}
			return nil
		})
		if err != nil {
			return err
		}
		return scan(txn, []byte(prefixUser), func(_, v []byte) error {
			var r dirRecord
			if err := decode(v, &r); err != nil {
				return err
			}
			u := &User{ID: r.ID, Username: r.Username, Email: r.Email, FullName: r.FullName,
				Role: r.Role, Groups: r.Groups, Disabled: r.Disabled, ExpiresAt: r.ExpiresAt,
				PasswordChangedAt: r.PasswordChangedAt, UIDNumber: r.UIDNumber, SSHKeys: r.SSHKeys}
			u.Groups = normalizeGroups(u.Groups)
			e := d.entryOf(u)
			d.entries = append(d.entries, e)
			d.byID[e.id] = e
			return nil
		})
	})
	if err != nil {
		d.entries, d.byID = nil, nil
		return fmt.Errorf("build user directory: %w", err)
	}
	slices.SortFunc(d.entries, func(a, b *dirEntry) int { return strings.Compare(a.name(), b.name()) })
	d.built.Store(true)
	return nil
}

// warmDirectory builds the directory in the background after Open, so the
// first search does not pay for it. User writes wait for the build (about a
// second per 100,000 users); reads, sessions and the guard do not.
func (s *Store) warmDirectory() {
	if err := s.enter(); err != nil {
		return
	}
	defer s.leave()
	if err := s.ensureDirectory(); err != nil {
		s.log.Error("store: build the user directory", "error", err)
	}
}

// invalidateDirectory makes the next search rebuild the directory (after
// writes that bypass the per-user upkeep, such as a Batch). The caller
// holds userWriteMu.
func (s *Store) invalidateDirectory() {
	s.directory.mu.Lock()
	defer s.directory.mu.Unlock()
	s.directory.built.Store(false)
	s.directory.entries, s.directory.byID, s.directory.intern, s.directory.gids = nil, nil, nil, nil
}

// matchIDs returns the ids of up to limit users (all when limit <= 0)
// matching f, in username order, after the lowercase username after, and
// next as for SearchUsers. The caller holds enter.
func (s *Store) matchIDs(f UserFilter, after string, limit int) (ids []string, next string, err error) {
	switch f.Status {
	case "", StatusActive, StatusDisabled:
	default:
		return nil, "", fmt.Errorf("unknown status %q", f.Status)
	}
	if err := s.ensureDirectory(); err != nil {
		return nil, "", err
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	if strings.ContainsRune(q, 0) {
		return nil, "", nil
	}
	now := s.now().UnixNano()
	d := &s.directory
	d.mu.RLock()
	defer d.mu.RUnlock()
	i := 0
	if after != "" {
		i = d.find(after)
		if i < len(d.entries) && d.entries[i].name() == after {
			i++
		}
	}
	var last string
	for ; i < len(d.entries); i++ {
		e := d.entries[i]
		if !e.match(&f, q, now) {
			continue
		}
		if limit > 0 && len(ids) == limit {
			return ids, last, nil
		}
		ids = append(ids, e.id)
		last = e.name()
	}
	return ids, "", nil
}

// countUsers is the number of users in the directory. The caller holds
// enter.
func (s *Store) countUsers() (int, error) {
	if err := s.ensureDirectory(); err != nil {
		return 0, err
	}
	s.directory.mu.RLock()
	defer s.directory.mu.RUnlock()
	return len(s.directory.entries), nil
}

// groupCounts counts members per lowercase group name. The caller holds
// enter.
func (s *Store) groupCounts() (map[string]int, error) {
	if err := s.ensureDirectory(); err != nil {
		return nil, err
	}
	s.directory.mu.RLock()
	defer s.directory.mu.RUnlock()
	counts := map[string]int{}
	for _, e := range s.directory.entries {
		for _, g := range e.groups {
			counts[g]++
		}
	}
	return counts, nil
}

// EachAccount calls fn with the account of every user, in lowercase
// username order, starting after the lowercase username after ("" for the
// first), until fn returns false. It reads the in-memory directory only
// (building it on first use), never Badger: the directory server answers
// every search from it.
//
// fn runs under the directory's read lock, which user writes wait for:
// it must be quick (copy what it needs and stop after a batch) and must
// not call back into the store.
func (s *Store) EachAccount(after string, fn func(Account) bool) error {
	return s.EachAccountIn("", after, fn)
}

// EachAccountIn is EachAccount over the members of group (any case; ""
// for every account): the others are skipped without being read out.
func (s *Store) EachAccountIn(group, after string, fn func(Account) bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.ensureDirectory(); err != nil {
		return err
	}
	d := &s.directory
	d.mu.RLock()
	defer d.mu.RUnlock()
	i := 0
	if after != "" {
		i = d.find(after)
		if i < len(d.entries) && d.entries[i].name() == after {
			i++
		}
	}
	group = strings.ToLower(group)
	for ; i < len(d.entries); i++ {
		e := d.entries[i]
		if group != "" && !slices.Contains(e.groups, group) {
			continue
		}
		if !fn(e.account()) {
			return nil
		}
	}
	return nil
}

// AccountNamed returns the account of the user called name
// (case-insensitive) from the in-memory directory, or ErrNotFound.
func (s *Store) AccountNamed(name string) (Account, error) {
	if err := s.enter(); err != nil {
		return Account{}, err
	}
	defer s.leave()
	if err := s.ensureDirectory(); err != nil {
		return Account{}, err
	}
	name = strings.ToLower(name)
	d := &s.directory
	d.mu.RLock()
	defer d.mu.RUnlock()
	if i := d.find(name); i < len(d.entries) && d.entries[i].name() == name {
		return d.entries[i].account(), nil
	}
	return Account{}, ErrNotFound
}
