package store

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// Batch fills a store with many new records quickly: records go into one
// Badger write batch, without a transaction, conflict check or fsync per
// record (a million sessions load in seconds instead of hours).
//
// It is for loading a store that nothing else writes to meanwhile —
// benchmark seeding, bulk loads — because it does NOT check uniqueness:
// adding a username, email, group or session id that already exists
// overwrites the old record and leaves its index entries behind. Records
// are validated as the normal methods validate them. Nothing is visible
// until Commit; a Batch holds the store open until Commit or Cancel.
type Batch struct {
	s        *Store
	wb       kvBatch
	done     bool
	sessions bool // sessions were added: rebuild the session index
}

// NewBatch starts a batch. Call Commit or Cancel when done.
func (s *Store) NewBatch() (*Batch, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	return &Batch{s: s, wb: s.db.NewWriteBatch()}, nil
}

// AddUser adds u as CreateUser would (assigning ID, CreatedAt and UpdatedAt
// when empty), without checking that its id, username or email are free.
func (b *Batch) AddUser(u *User) error {
	if b.done {
		return errors.New("store: batch: already committed or cancelled")
	}
	if u.ID == "" {
		u.ID = NewID()
	}
	now := b.s.now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = now
	}
	u.seal()
	if err := validateUser(u); err != nil {
		return fmt.Errorf("store: batch: user %q: %w", u.Username, err)
	}
	v, err := encode(u)
	if err != nil {
		return err
	}
	err = errors.Join(
		b.wb.Set(userKey(u.ID), v),
		b.wb.Set(usernameKey(u.Username), []byte(u.ID)),
	)
	if err == nil && u.Email != "" {
		err = b.wb.Set(emailKey(u.Email), []byte(u.ID))
	}
	if err != nil {
		return fmt.Errorf("store: batch: user %q: %w", u.Username, err)
	}
	return nil
}

// AddGroup adds g (setting CreatedAt when zero) without checking that its
// name is free.
func (b *Batch) AddGroup(g *Group) error {
	if b.done {
		return errors.New("store: batch: already committed or cancelled")
	}
	if !validName(g.Name) {
		return fmt.Errorf("store: batch: group %q: invalid name", g.Name)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = b.s.now()
	}
	v, err := encode(g)
	if err == nil {
		err = b.wb.Set(groupKey(g.Name), v)
	}
	if err != nil {
		return fmt.Errorf("store: batch: group %q: %w", g.Name, err)
	}
	return nil
}

// AddSession adds sess as CreateSession would (TTL, user index entry,
// CreatedAt and LastSeen filled when zero), without checking that its id
// is free. Its user must exist by Commit for the session to be usable.
func (b *Batch) AddSession(sess *Session) error {
	if b.done {
		return errors.New("store: batch: already committed or cancelled")
	}
	now := b.s.now()
	if err := prepareSession(sess, now); err != nil {
		return fmt.Errorf("store: batch: session %s: %w", sess.ID, err)
	}
	v, err := encode(sess)
	if err != nil {
		return err
	}
	ttl := ttlFor(sess.ExpiresAt, now)
	err = errors.Join(
		b.wb.SetTTL(sessionKey(sess.ID), v, ttl),
		b.wb.SetTTL(userSessionKey(sess.UserID, sess.ID), nil, ttl),
	)
	if err != nil {
		return fmt.Errorf("store: batch: session %s: %w", sess.ID, err)
	}
	b.sessions = true
	return nil
}

// AddAudit adds e as AppendAudit would (ID, and Time when zero; indexed by
// user).
func (b *Batch) AddAudit(e *Event) error {
	if b.done {
		return errors.New("store: batch: already committed or cancelled")
	}
	if e.Action == "" {
		return errors.New("store: batch: audit event with empty action")
	}
	if e.Time.IsZero() {
		e.Time = b.s.now()
	}
	suffix := b.s.auditSuffix(e.Time)
	e.ID = hex.EncodeToString(suffix)
	if err := putAudit(b.wb.Set, suffix, e); err != nil {
		return fmt.Errorf("store: batch: audit %s: %w", e.Action, err)
	}
	return nil
}

// Commit writes everything added, syncs it to disk, makes the store's
// in-memory user directory reload on its next use and, when sessions were
// added, rebuilds the session index in the background.
func (b *Batch) Commit() error {
	if b.done {
		return errors.New("store: batch: already committed or cancelled")
	}
	b.done = true
	defer b.s.leave()
	err := b.wb.Flush()
	if err == nil {
		err = b.s.db.Sync()
	}
	b.s.userWriteMu.Lock()
	b.s.invalidateDirectory()
	b.s.userWriteMu.Unlock()
	if b.sessions {
		b.s.rebuildSessionIndex()
	}
	if err != nil {
		return fmt.Errorf("store: batch: commit: %w", err)
	}
	return nil
}

// Cancel drops everything added. It does nothing after Commit.
func (b *Batch) Cancel() {
	if b.done {
		return
	}
	b.done = true
	b.wb.Cancel()
	b.s.leave()
}

// Compact merges the database's tables into as few levels as it can, so a
// store filled by batches starts without a backlog of compactions (which
// would otherwise run, with their memory and CPU, in the first minutes of
// the next process). It can take a while; the store stays usable.
func (s *Store) Compact() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	bk, ok := s.db.(badgerKV)
	if !ok {
		return nil // other engines compact themselves (PostgreSQL: autovacuum)
	}
	if err := bk.db.Flatten(2); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	return nil
}
