package store

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The outgoing security e-mails and each user's choices about them:
//
//	mailq/<id>         QueuedMail (a message waiting to be sent)
//	mailpref/<user id> MailPrefs
//
// The queue is a set of records in the store, so it survives a restart: a
// message is written before the request that caused it answers and deleted
// only once the SMTP server has accepted it (at-least-once delivery).
const (
	prefixMailQueue = "mailq/"
	prefixMailPrefs = "mailpref/"
)

// QueuedMail is one message waiting in the queue.
type QueuedMail struct {
	// ID is random; Put assigns it when empty.
	ID string `json:"id"`
	// Kind names the event (for logs), e.g. "password_changed".
	Kind    string `json:"kind"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Attempts is how many sends failed; NextAt is when the next may run;
	// LastError is the latest failure.
	Attempts  int       `json:"attempts,omitempty"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// MailPrefs are a user's choices about the optional security e-mails, and
// the time zone their e-mails show times in.
type MailPrefs struct {
	// NoNewDevice turns off the "sign-in from a new device" e-mail;
	// NoNewCredential the "API key / app password created" one.
	NoNewDevice     bool `json:"no_new_device,omitempty"`
	NoNewCredential bool `json:"no_new_credential,omitempty"`
	// TimeZone is an IANA zone name ("" means UTC).
	TimeZone string `json:"time_zone,omitempty"`
	// Digest is "daily" or "weekly" for an administrator who wants the
	// security digest, "" for none; DigestSentAt is when the last went out.
	Digest       string    `json:"digest,omitempty"`
	DigestSentAt time.Time `json:"digest_sent_at,omitzero"`
}

// MailQueue is the part of the store that keeps the outgoing security
// e-mails and the users' preferences about them.
type MailQueue struct{ s *Store }

// MailQueue returns the store's mail queue part.
func (s *Store) MailQueue() MailQueue { return MailQueue{s} }

// Put queues m (due at once when its NextAt is zero). Durable when it
// returns.
func (q MailQueue) Put(m *QueuedMail) error {
	s := q.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	if m.NextAt.IsZero() {
		m.NextAt = m.CreatedAt
	}
	if err := s.updateSync(func(txn kvTxn) error { return put(txn, cat(prefixMailQueue, m.ID), m) }); err != nil {
		return fmt.Errorf("store: queue mail: %w", err)
	}
	return nil
}

// Next returns up to limit messages due at now, the earliest due first.
func (q MailQueue) Next(now time.Time, limit int) ([]QueuedMail, error) {
	s := q.s
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []QueuedMail
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: []byte(prefixMailQueue), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m QueuedMail
			if err := it.Item().Value(func(b []byte) error { return decode(b, &m) }); err != nil {
				return err
			}
			if !m.NextAt.After(now) {
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: next queued mail: %w", err)
	}
	slices.SortFunc(out, func(a, b QueuedMail) int { return a.NextAt.Compare(b.NextAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Len returns how many messages wait in the queue.
func (q MailQueue) Len() (int, error) {
	s := q.s
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	n := 0
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: []byte(prefixMailQueue)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Done removes the message id from the queue (sent, or given up on).
func (q MailQueue) Done(id string) error {
	s := q.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.updateSync(func(txn kvTxn) error { return txn.Delete(cat(prefixMailQueue, id)) }); err != nil {
		return fmt.Errorf("store: dequeue mail: %w", err)
	}
	return nil
}

// Retry records a failed send of m: its Attempts, NextAt and LastError as
// given. A message no longer queued is not written back.
func (q MailQueue) Retry(m *QueuedMail) error {
	s := q.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.updateSync(func(txn kvTxn) error {
		if ok, err := exists(txn, cat(prefixMailQueue, m.ID)); err != nil || !ok {
			return err
		}
		return put(txn, cat(prefixMailQueue, m.ID), m)
	})
	if err != nil {
		return fmt.Errorf("store: retry mail: %w", err)
	}
	return nil
}

// Prefs returns the user's mail preferences (the zero value when none are
// stored).
func (q MailQueue) Prefs(userID string) (MailPrefs, error) {
	s := q.s
	if err := s.enter(); err != nil {
		return MailPrefs{}, err
	}
	defer s.leave()
	var p MailPrefs
	err := s.db.View(func(txn kvTxn) error { return get(txn, cat(prefixMailPrefs, userID), &p) })
	if err != nil && !errors.Is(err, ErrNotFound) {
		return MailPrefs{}, fmt.Errorf("store: mail preferences: %w", err)
	}
	return p, nil
}

// ClaimDigest marks the user's digest sent at now, but only when the mark
// is still prev, the one the caller read: of several nodes that find the
// same digest due, exactly one claims it (true) and sends it.
func (q MailQueue) ClaimDigest(userID string, prev, now time.Time) (bool, error) {
	s := q.s
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	claimed := false
	err := s.updateSync(func(txn kvTxn) error {
		claimed = false
		var p MailPrefs
		if err := get(txn, cat(prefixMailPrefs, userID), &p); err != nil {
			return err
		}
		if !p.DigestSentAt.Equal(prev) {
			return nil
		}
		p.DigestSentAt = now
		claimed = true
		return put(txn, cat(prefixMailPrefs, userID), &p)
	})
	if err != nil {
		return false, fmt.Errorf("store: claim digest: %w", err)
	}
	return claimed, nil
}

// SetPrefs changes the user's mail preferences with fn and returns them.
func (q MailQueue) SetPrefs(userID string, fn func(*MailPrefs)) (MailPrefs, error) {
	s := q.s
	if err := s.enter(); err != nil {
		return MailPrefs{}, err
	}
	defer s.leave()
	var p MailPrefs
	err := s.updateSync(func(txn kvTxn) error {
		p = MailPrefs{}
		if err := get(txn, cat(prefixMailPrefs, userID), &p); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		fn(&p)
		if p == (MailPrefs{}) {
			return txn.Delete(cat(prefixMailPrefs, userID))
		}
		return put(txn, cat(prefixMailPrefs, userID), &p)
	})
	if err != nil {
		return MailPrefs{}, fmt.Errorf("store: set mail preferences: %w", err)
	}
	return p, nil
}

// Claim takes m for sending until until, if it is still queued and due at
// now (no other worker took it meanwhile); ok reports whether it did. m's
// NextAt becomes until.
func (q MailQueue) Claim(m *QueuedMail, now, until time.Time) (ok bool, err error) {
	s := q.s
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	err = s.update(func(txn kvTxn) error {
		ok = false
		var cur QueuedMail
		switch err := get(txn, cat(prefixMailQueue, m.ID), &cur); {
		case errors.Is(err, ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		if cur.NextAt.After(now) {
			return nil
		}
		cur.NextAt = until
		ok = true
		*m = cur
		return put(txn, cat(prefixMailQueue, m.ID), &cur)
	})
	if err != nil {
		return false, fmt.Errorf("store: claim queued mail: %w", err)
	}
	return ok, nil
}

// EachPrefs calls fn with every user's stored mail preferences.
func (q MailQueue) EachPrefs(fn func(userID string, p MailPrefs)) error {
	s := q.s
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	type entry struct {
		id string
		p  MailPrefs
	}
	var all []entry
	err := s.db.View(func(txn kvTxn) error {
		it := txn.NewIterator(iterOptions{Prefix: []byte(prefixMailPrefs), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var e entry
			e.id = string(it.Item().Key()[len(prefixMailPrefs):])
			if err := it.Item().Value(func(b []byte) error { return decode(b, &e.p) }); err != nil {
				return err
			}
			all = append(all, e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: mail preferences: %w", err)
	}
	for _, e := range all {
		fn(e.id, e.p)
	}
	return nil
}
