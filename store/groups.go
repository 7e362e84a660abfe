package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
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
	err := s.updateSync(func(txn *badger.Txn) error {
		if err := claim(txn, groupKey(rec.Name), "group"); err != nil {
			return err
		}
		return put(txn, groupKey(rec.Name), &rec)
	})
	if err != nil {
		return fmt.Errorf("store: create group %q: %w", g.Name, err)
	}
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
	err := s.update(func(txn *badger.Txn) error {
		created = 0
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
			if err := put(txn, []byte(k), &Group{Name: n, CreatedAt: now}); err != nil {
				return err
			}
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
	return nil
}

// Group returns the group named name (case-insensitive).
func (s *Store) Group(name string) (*Group, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	g := new(Group)
	err := s.db.View(func(txn *badger.Txn) error { return get(txn, groupKey(name), g) })
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
	err := s.db.View(func(txn *badger.Txn) error {
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
func scan(txn *badger.Txn, prefix []byte, fn func(k, v []byte) error) error {
	opts := badger.DefaultIteratorOptions
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
