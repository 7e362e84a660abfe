package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Group is a named set of users; membership is stored on the user
// (User.Groups).
type Group struct {
	// Name is unique, case-insensitively.
	Name string `json:"name"`
	// Description is free text for admins.
	Description string `json:"description,omitempty"`
	// CreatedAt is set by CreateGroup (when zero) and EnsureGroups.
	CreatedAt time.Time `json:"created_at"`
	// GIDNumber is the group's POSIX gid, handed out by CreateGroup and
	// EnsureGroups when POSIX ids are on (see SetPosixIDs), kept through
	// renames and never reused; 0 means none.
	GIDNumber uint32 `json:"gid_number,omitempty"`
}

// CreateGroup stores a new group; ErrConflict if the name is taken
// (case-insensitive). Durable when it returns.
func (s *Store) CreateGroup(g *Group) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if !validName(g.Name) || strings.TrimSpace(g.Name) == "" {
		return fmt.Errorf("store: create group %q: invalid name", g.Name)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	rec := *g
	posix := s.posix.Load()
	if posix != nil {
		s.posixMu.Lock()
		defer s.posixMu.Unlock()
	}
	err := s.updateSync(func(txn kvTxn) error {
		if err := claim(txn, groupKey(rec.Name), "group"); err != nil {
			return err
		}
		rec.GIDNumber = 0 // only ever handed out here
		if posix != nil {
			n, err := s.nextPosixID(txn, posix)
			if err != nil {
				return err
			}
			rec.GIDNumber = n
		}
		return put(txn, groupKey(rec.Name), &rec)
	})
	if err != nil {
		return fmt.Errorf("store: create group %q: %w", g.Name, err)
	}
	g.GIDNumber = rec.GIDNumber
	s.directory.setGID(rec.Name, rec.GIDNumber)
	return nil
}

// EnsureGroups creates, in one transaction, those of names that do not
// exist yet (case-insensitive). Empty names are ignored.
func (s *Store) EnsureGroups(names []string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	for _, n := range names {
		if !validName(n) && n != "" {
			return fmt.Errorf("store: ensure groups: invalid name %q", n)
		}
	}
	now := s.now()
	created := 0
	posix := s.posix.Load()
	if posix != nil {
		s.posixMu.Lock()
		defer s.posixMu.Unlock()
	}
	var made []*Group
	err := s.update(func(txn kvTxn) error {
		created, made = 0, nil
		seen := make(map[string]bool, len(names))
		for _, n := range names {
			k := string(groupKey(n))
			if strings.TrimSpace(n) == "" || seen[k] {
				continue
			}
			seen[k] = true
			ok, err := exists(txn, []byte(k))
			if err != nil {
				return err
			}
			if ok {
				continue
			}
			g := &Group{Name: n, CreatedAt: now}
			if posix != nil {
				if g.GIDNumber, err = s.nextPosixID(txn, posix); err != nil {
					return err
				}
			}
			if err := put(txn, []byte(k), g); err != nil {
				return err
			}
			made = append(made, g)
			created++
		}
		return nil
	})
	if err == nil && created > 0 {
		err = s.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("store: ensure groups %q: %w", names, err)
	}
	for _, g := range made {
		s.directory.setGID(g.Name, g.GIDNumber)
	}
	return nil
}

// Group returns the group named name (case-insensitive).
func (s *Store) Group(name string) (*Group, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	g := new(Group)
	err := s.db.View(func(txn kvTxn) error { return get(txn, groupKey(name), g) })
	if err != nil {
		return nil, fmt.Errorf("store: group %q: %w", name, err)
	}
	return g, nil
}

// ListGroups returns every group, sorted by lowercase name.
func (s *Store) ListGroups() ([]*Group, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []*Group
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixGroup), func(_ []byte, v []byte) error {
			g := new(Group)
			if err := decode(v, g); err != nil {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list groups: %w", err)
	}
	return out, nil
}

// scan calls fn for every key under prefix, in key order. The slices are
// valid only during the call.
func scan(txn kvTxn, prefix []byte, fn func(k, v []byte) error) error {
	opts := defaultIterOptions
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key(), v) })
		if errors.Is(err, errStopScan) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errStopScan ends a scan early without error.
var errStopScan = errors.New("stop scan")

// UpdateGroup runs fn on the stored group named name (case-insensitive)
// and saves the result. fn may change the description only: it returns an
// error when fn changes Name (use RenameGroup), and CreatedAt is kept. fn
// may be called more than once (on a transaction conflict); if it returns
// an error nothing is written and that error is returned wrapped.
// ErrNotFound when the group is missing. Durable when it returns.
func (s *Store) UpdateGroup(name string, fn func(g *Group) error) (*Group, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out *Group
	err := s.updateSync(func(txn kvTxn) error {
		g := new(Group)
		if err := get(txn, groupKey(name), g); err != nil {
			return err
		}
		old := *g
		if err := fn(g); err != nil {
			return err
		}
		if g.Name != old.Name {
			return errors.New("a group cannot be renamed by UpdateGroup (use RenameGroup)")
		}
		g.CreatedAt, g.GIDNumber = old.CreatedAt, old.GIDNumber
		out = g
		return put(txn, groupKey(name), g)
	})
	if err != nil {
		return nil, fmt.Errorf("store: update group %q: %w", name, err)
	}
	return out, nil
}

// RenameGroup renames the group oldName (case-insensitive) to newName and,
// in the same transaction, every mention of it (case-insensitive) in users'
// Groups and apps' AllowGroups, which stay sorted and deduplicated. A
// case-only rename of the same group is allowed. ErrNotFound when the group
// is missing, ErrConflict when newName is another group. Users whose groups
// changed get a new UpdatedAt and are visible to the very next User call;
// changed apps get a new UpdatedAt. A group with very many members or apps
// may not fit in one Badger transaction (a few thousand members): then
// ErrTooBig (wrapping errTxnTooBig) is returned and nothing
// changes. Durable when it returns.
func (s *Store) RenameGroup(oldName, newName string) error {
	if !validName(newName) || strings.TrimSpace(newName) == "" {
		return fmt.Errorf("store: rename group %q: invalid name %q", oldName, newName)
	}
	return s.rewriteGroup(oldName, &newName, "rename group")
}

// DeleteGroup removes the group name (case-insensitive) and, in the same
// transaction, every mention of it (case-insensitive) in users' Groups and
// apps' AllowGroups. ErrNotFound when missing. Users whose groups changed
// get a new UpdatedAt and are visible to the very next User call. As for
// RenameGroup, a very large group may fail with ErrTooBig, and then
// nothing changes. Durable when it returns.
func (s *Store) DeleteGroup(name string) error {
	return s.rewriteGroup(name, nil, "delete group")
}

// rewriteGroup renames (to *newName) or deletes (newName nil) a group and
// every reference to it.
func (s *Store) rewriteGroup(name string, newName *string, what string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	// Held so the cache replacements below are ordered with UpdateUser's.
	s.userWriteMu.Lock()
	defer s.userWriteMu.Unlock()
	var changed []*User
	var gid uint32
	err := s.updateSync(func(txn kvTxn) error {
		changed = nil
		now := s.now()
		g := new(Group)
		if err := get(txn, groupKey(name), g); err != nil {
			return err
		}
		if err := txn.Delete(groupKey(name)); err != nil {
			return err
		}
		gid = g.GIDNumber
		if newName != nil {
			if !strings.EqualFold(*newName, g.Name) {
				if err := claim(txn, groupKey(*newName), "group"); err != nil {
					return err
				}
			}
			g.Name = *newName
			if err := put(txn, groupKey(*newName), g); err != nil {
				return err
			}
		}
		var users []*User
		err := scan(txn, []byte(prefixUser), func(_, v []byte) error {
			u := new(User)
			if err := decode(v, u); err != nil {
				return err
			}
			if groups, ok := replaceGroup(u.Groups, name, newName); ok {
				u.Groups = groups
				u.UpdatedAt = now
				u.seal()
				users = append(users, u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := put(txn, userKey(u.ID), u); err != nil {
				return err
			}
		}
		var apps []*AppAccess
		err = scan(txn, []byte(prefixApp), func(_, v []byte) error {
			a := new(AppAccess)
			if err := decode(v, a); err != nil {
				return err
			}
			if groups, ok := replaceGroup(a.AllowGroups, name, newName); ok {
				a.AllowGroups = groups
				a.UpdatedAt = now
				apps = append(apps, a)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, a := range apps {
			if err := put(txn, appKey(a.App), a); err != nil {
				return err
			}
		}
		changed = users
		return nil
	})
	if errors.Is(err, errTxnTooBig) {
		return fmt.Errorf("store: %s %q: %w (%w)", what, name, ErrTooBig, err)
	}
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", what, name, err)
	}
	for _, u := range changed {
		s.users.replace(u)
		s.directory.put(u)
	}
	s.directory.setGID(name, 0)
	if newName != nil {
		s.directory.setGID(*newName, gid)
	}
	return nil
}

// replaceGroup returns list without the entries equal to name
// (case-insensitive), plus *newName when not nil, normalised like
// User.Groups; ok is false (and list returned as is) when name is absent.
func replaceGroup(list []string, name string, newName *string) (out []string, ok bool) {
	match := func(x string) bool { return strings.EqualFold(x, name) }
	if !slices.ContainsFunc(list, match) {
		return list, false
	}
	out = slices.DeleteFunc(slices.Clone(list), match)
	if newName != nil {
		out = append(out, *newName)
	}
	return normalizeGroups(out), true
}

// GroupMembers returns the users whose Groups contain name
// (case-insensitive), sorted by lowercase username. The group record need
// not exist: an unknown group has no members.
func (s *Store) GroupMembers(name string) ([]*User, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	users, _, err := s.searchUsers(UserFilter{Group: name}, "", 0)
	if err != nil {
		return nil, fmt.Errorf("store: members of group %q: %w", name, err)
	}
	return users, nil
}

// GroupMemberCounts returns, for each lowercase group name that has
// members, how many users are in it, in one scan of the users. A user
// listing a group twice in different cases counts once.
func (s *Store) GroupMemberCounts() (map[string]int, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	counts, err := s.groupCounts()
	if err != nil {
		return nil, fmt.Errorf("store: group member counts: %w", err)
	}
	return counts, nil
}
