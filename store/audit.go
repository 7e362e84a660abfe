package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is one audit-log entry.
type Event struct {
	// ID is assigned by AppendAudit; it sorts like Time.
	ID string `json:"id"`
	// Time is when it happened; AppendAudit sets it when zero.
	Time time.Time `json:"time"`
	// Actor is the username of who acted ("" for anonymous). While an
	// administrator impersonates someone, it is the impersonated user.
	Actor string `json:"actor,omitempty"`
	// Impersonator is the username of the administrator who acted as
	// Actor by impersonating them; empty otherwise.
	Impersonator string `json:"impersonator,omitempty"`
	// Action is what was done, e.g. "login", "logout", "user.create".
	Action string `json:"action"`
	// Resource is what it was done to, e.g. "user:alice".
	Resource string `json:"resource,omitempty"`
	// Outcome is "success" or "failure".
	Outcome string `json:"outcome"`
	// Reason explains a failure.
	Reason string `json:"reason,omitempty"`
	// IP is the client address.
	IP string `json:"ip,omitempty"`
	// UserAgent is the client's User-Agent.
	UserAgent string `json:"user_agent,omitempty"`
	// Via is the surface the action came through: portal, api, cli,
	// ldap, oidc or guard ("" for a start-up duty).
	Via string `json:"via,omitempty"`
}

// AuditFilter selects events for ListAudit. The zero value selects all.
type AuditFilter struct {
	// Actor matches exactly, case-insensitively; "" matches any.
	Actor string
	// User matches events by or about a user: Actor or Impersonator equal
	// to it, or Resource equal to "user:"+User, case-insensitively; ""
	// matches any.
	User string
	// Action matches exactly, or as a prefix when it ends in "." (e.g.
	// "user."); "" matches any.
	Action string
	// Since is the inclusive lower time bound; zero means open.
	Since time.Time
	// Until is the exclusive upper time bound; zero means open.
	Until time.Time
}

func (f AuditFilter) match(e *Event) bool {
	if f.Actor != "" && !strings.EqualFold(e.Actor, f.Actor) {
		return false
	}
	if f.User != "" && !strings.EqualFold(e.Actor, f.User) && !strings.EqualFold(e.Impersonator, f.User) &&
		!strings.EqualFold(e.Resource, "user:"+f.User) {
		return false
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			return strings.HasPrefix(e.Action, f.Action)
		}
		return e.Action == f.Action
	}
	return true
}

// AppendAudit stores e, filling its ID and, when zero, its Time. Durable
// when it returns.
func (s *Store) AppendAudit(e *Event) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if e.Action == "" {
		return fmt.Errorf("store: append audit: empty action")
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	suffix := s.auditSuffix(e.Time)
	e.ID = hex.EncodeToString(suffix)
	err := s.updateSync(func(txn kvTxn) error { return putAudit(txn.Set, suffix, e) })
	if err != nil {
		return fmt.Errorf("store: append audit %s: %w", e.Action, err)
	}
	return nil
}

// auditSuffix is a new event key suffix at t: big-endian unix nanoseconds,
// then a sequence number, so events of the same nanosecond keep the order
// they were written in, and random bytes, so two processes never collide.
func (s *Store) auditSuffix(t time.Time) []byte {
	suffix := make([]byte, 8, auditSuffixLen)
	binary.BigEndian.PutUint64(suffix, uint64(max(t.UnixNano(), 0)))
	suffix = binary.BigEndian.AppendUint32(suffix, s.auditSeq.Add(1))
	suffix = append(suffix, make([]byte, 4)...)
	rand.Read(suffix[12:])
	return suffix
}

// putAudit writes e under suffix and its entries in the user index with
// set (a transaction's or a write batch's).
func putAudit(set func(k, v []byte) error, suffix []byte, e *Event) error {
	b, err := encode(e)
	if err != nil {
		return err
	}
	if err := set(auditKey(suffix), b); err != nil {
		return err
	}
	for _, name := range auditNames(e) {
		if err := set(auditUserKey(name, suffix), nil); err != nil {
			return err
		}
	}
	return nil
}

// auditNames are the lowercase usernames an event is indexed under: its
// actor, its impersonator and the user it is about (Resource "user:…"),
// each once. These are exactly the names AuditFilter.User matches.
func auditNames(e *Event) []string {
	names := make([]string, 0, 3)
	add := func(n string) {
		n = strings.ToLower(n)
		if n != "" && !strings.ContainsRune(n, sep) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	add(e.Actor)
	add(e.Impersonator)
	if u, ok := strings.CutPrefix(e.Resource, "user:"); ok {
		add(u)
	}
	return names
}

// auditReadBudget is how many events one ListAudit call reads at most, so a
// filter that matches rarely (an action that almost never happens, over a
// million events) answers in tens of milliseconds with a partial page and
// a cursor instead of reading the whole log in one request.
var auditReadBudget = 20_000

// ListAudit returns up to limit events (50 when limit <= 0) matching f,
// newest first, starting after cursor (the opaque next value of the
// previous page; "" for the first). next is "" when there are no more. The
// time range bounds the key scan, and a User or Actor filter walks only
// that user's entries in the user index, so neither reads the whole log.
// One call reads at most auditReadBudget events: when it stops there, the
// page may hold fewer than limit events (even none) and next is set.
func (s *Store) ListAudit(f AuditFilter, cursor string, limit int) (events []*Event, next string, err error) {
	if err := s.enter(); err != nil {
		return nil, "", err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 50
	}
	var after []byte
	if cursor != "" {
		b, err := hex.DecodeString(cursor)
		if err != nil || len(b) != auditSuffixLen {
			return nil, "", fmt.Errorf("store: list audit: bad cursor %q", cursor)
		}
		after = b
	}
	// Index keys end with the same suffix as the event keys, so both
	// walks are the same: prefix, then time-ordered suffixes.
	prefix, indexed := []byte(prefixAudit), false
	switch {
	case f.User != "":
		prefix, indexed = auditUserPrefix(f.User), true
	case f.Actor != "":
		prefix, indexed = auditUserPrefix(f.Actor), true
	}
	// Reverse iteration starts at the largest key <= start.
	start := append(bytes.Clone(prefix), 0xff)
	if !f.Until.IsZero() {
		// Smaller than every key at Until itself: Until is exclusive.
		start = binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(max(f.Until.UnixNano(), 0)))
	}
	if after != nil {
		if c := append(bytes.Clone(prefix), after...); bytes.Compare(c, start) < 0 {
			start = c
		} else {
			after = nil
		}
	}
	since := int64(-1)
	if !f.Since.IsZero() {
		since = f.Since.UnixNano()
	}
	err = s.db.View(func(txn kvTxn) error {
		opts := defaultIterOptions
		opts.Reverse = true
		opts.Prefix = prefix
		opts.PrefetchValues = !indexed
		it := txn.NewIterator(opts)
		defer it.Close()
		var last []byte // suffix of the last event read
		read := 0
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != len(prefix)+auditSuffixLen {
				continue
			}
			suffix := k[len(prefix):]
			if after != nil && bytes.Equal(suffix, after) {
				continue
			}
			if int64(binary.BigEndian.Uint64(suffix)) < since {
				return nil
			}
			if read == auditReadBudget {
				// A filter that matches rarely: answer what was found
				// so far, with a cursor to go on from here.
				next = hex.EncodeToString(last)
				return nil
			}
			read++
			last = append(last[:0], suffix...)
			e := new(Event)
			if indexed {
				err := get(txn, auditKey(suffix), e)
				if errors.Is(err, ErrNotFound) {
					continue // pruned between the two keys' deletion
				}
				if err != nil {
					return err
				}
			} else if err := item.Value(func(v []byte) error { return decode(v, e) }); err != nil {
				return err
			}
			if !f.match(e) {
				continue
			}
			if len(events) == limit {
				next = events[limit-1].ID
				return nil
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list audit: %w", err)
	}
	return events, next, nil
}

// PruneAudit deletes the events whose Time is before before and returns
// how many it deleted. Only the old end of the log is scanned (keys sort by
// time), and deletions are made in transactions of at most 1000 keys, so a
// large log never hits errTxnTooBig; on error the events deleted so
// far stay deleted. Durable when it returns.
func (s *Store) PruneAudit(before time.Time) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	end := auditTimeKey(max(before.UnixNano(), 0))
	var keys [][]byte
	n := 0
	err := s.db.View(func(txn kvTxn) error {
		opts := defaultIterOptions
		opts.Prefix = []byte(prefixAudit)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid() && bytes.Compare(it.Item().Key(), end) < 0; it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			e := new(Event)
			if err := item.Value(func(v []byte) error { return decode(v, e) }); err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			// Index entries first: deleteKeys goes in order, so an
			// interrupted prune leaves no index entry without its event
			// that a later prune would miss.
			for _, name := range auditNames(e) {
				keys = append(keys, auditUserKey(name, k[len(prefixAudit):]))
			}
			keys = append(keys, k)
			n++
		}
		return nil
	})
	if err == nil {
		err = s.deleteKeys(keys)
	}
	if err != nil {
		return 0, fmt.Errorf("store: prune audit before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// indexAudit builds the user index of the audit log in a database written
// before the index existed, once; a fresh database is marked as indexed.
func (s *Store) indexAudit() error {
	done := false
	err := s.db.View(func(txn kvTxn) error {
		var err error
		done, err = exists(txn, keyAuditUserIndex)
		return err
	})
	if err != nil || done {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefixAudit), func(k, v []byte) error {
			e := new(Event)
			if err := decode(v, e); err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			for _, name := range auditNames(e) {
				if err := wb.Set(auditUserKey(name, k[len(prefixAudit):]), nil); err != nil {
					return err
				}
			}
			n++
			return nil
		})
	})
	if err == nil {
		err = wb.Set(keyAuditUserIndex, nil)
	}
	if err == nil {
		err = wb.Flush()
	}
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("index audit log: %w", err)
	}
	if n > 0 {
		s.log.Info("store: indexed the audit log by user", "events", n)
	}
	return nil
}
