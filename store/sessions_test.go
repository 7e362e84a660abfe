package store

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func mustCreateSession(t testing.TB, s *Store, sess *Session) *Session {
	t.Helper()
	if err := s.CreateSession(sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

// diskSession reads a session straight from Badger: its record and the
// activity written back for it.
func diskSession(t testing.TB, s *Store, id SessionID) (sess Session, err error) {
	t.Helper()
	err = s.db.View(func(txn kvTxn) error {
		sess, err = readSession(txn, id)
		return err
	})
	sess.ID = id
	return sess, err
}

// waitIndexed waits until the session index is complete.
func waitIndexed(t testing.TB, s *Store) {
	t.Helper()
	waitUntil(t, "the session index is built", s.index.complete.Load)
}

// waitUntil polls cond for up to 10 seconds.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// slotOf returns a copy of the facts in the index slot of id.
func slotOf(s *Store, id SessionID) (dirty bool, saved int64, ok bool) {
	s.index.mu.RLock()
	defer s.index.mu.RUnlock()
	_, n, ok := s.index.find(&id)
	if !ok {
		return false, 0, false
	}
	sl := s.index.slot(n)
	return sl.dirty.Load(), sl.savedSeen.Load(), true
}

func TestSessionIDString(t *testing.T) {
	id := SessionID{0xab, 0x01}
	if got := id.String(); len(got) != 64 || got[:4] != "ab01" {
		t.Errorf("String = %q", got)
	}
}

func TestSessionExpired(t *testing.T) {
	now := time.Unix(10_000, 0)
	for _, tc := range []struct {
		name string
		s    Session
		want bool
	}{
		{"live", Session{ExpiresAt: now.Add(time.Second), LastSeen: now}, false},
		{"at end", Session{ExpiresAt: now, LastSeen: now}, true},
		{"past end", Session{ExpiresAt: now.Add(-time.Second), LastSeen: now}, true},
		{"idle ok", Session{ExpiresAt: now.Add(time.Hour), LastSeen: now.Add(-59 * time.Minute), IdleTimeout: time.Hour}, false},
		{"idle reached", Session{ExpiresAt: now.Add(time.Hour), LastSeen: now.Add(-time.Hour), IdleTimeout: time.Hour}, true},
		{"no idle limit", Session{ExpiresAt: now.Add(time.Hour), LastSeen: now.Add(-1000 * time.Hour)}, false},
	} {
		if got := tc.s.Expired(now); got != tc.want {
			t.Errorf("%s: Expired = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCreateSessionAndLookup(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	in := &Session{ID: SessionID{1}, UserID: "u1", ExpiresAt: clk.Now().Add(time.Hour), IP: "192.0.2.1", UserAgent: "test", Remember: true}
	mustCreateSession(t, s, in)
	if !in.CreatedAt.Equal(clk.Now()) || !in.LastSeen.Equal(clk.Now()) {
		t.Errorf("CreatedAt, LastSeen = %v, %v", in.CreatedAt, in.LastSeen)
	}
	got, err := s.Session(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != in.ID || got.UserID != "u1" || got.IP != "192.0.2.1" || !got.Remember || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Errorf("Session = %+v", got)
	}
	a, err := s.SessionAuth(in.ID)
	if err != nil || a.ID != in.ID || a.UserID != "u1" || !a.Remember || a.SecondFactor || a.Impersonation ||
		!a.ExpiresAt.Equal(in.ExpiresAt) || !a.LastSeen.Equal(in.LastSeen) {
		t.Errorf("SessionAuth = %+v, %v", a, err)
	}
	if _, err := s.Session(SessionID{99}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Session(unknown) = %v", err)
	}
	if _, err := s.SessionAuth(SessionID{99}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SessionAuth(unknown) = %v", err)
	}
	if err := s.CreateSession(&Session{ID: in.ID, UserID: "u2", ExpiresAt: clk.Now().Add(time.Hour)}); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateSession(duplicate id) = %v, want ErrConflict", err)
	}
}

// TestCreateSessionIf checks the condition on the user: it sees the stored
// record, a refusal stores nothing, and a user write that commits while the
// session is being stored makes the condition run again on the new record
// (the race between a sign-in and a password change).
func TestCreateSessionIf(t *testing.T) {
	s := openTest(t, "", Options{})
	u := mustCreateUser(t, s, &User{Username: "alice", PasswordHash: "h1", PasswordChangedAt: time.Unix(1_700_000_000, 0)})
	end := time.Now().Add(time.Hour)
	errChanged := errors.New("password changed")
	samePassword := func(hash string) func(*User) error {
		return func(x *User) error {
			if x.PasswordHash != hash {
				return errChanged
			}
			return nil
		}
	}
	stored := func(id SessionID) bool {
		t.Helper()
		_, errAuth := s.SessionAuth(id)
		_, errRec := s.Session(id)
		if errors.Is(errAuth, ErrNotFound) != errors.Is(errRec, ErrNotFound) {
			t.Fatalf("session %s: index says %v, record says %v", id, errAuth, errRec)
		}
		return errRec == nil
	}

	if err := s.CreateSessionIf(&Session{ID: SessionID{1}, UserID: u.ID, ExpiresAt: end}, samePassword("h1")); err != nil {
		t.Fatalf("condition holds: %v", err)
	}
	if !stored(SessionID{1}) {
		t.Error("condition holds: session not stored")
	}
	if err := s.CreateSessionIf(&Session{ID: SessionID{2}, UserID: u.ID, ExpiresAt: end}, samePassword("h0")); err != errChanged {
		t.Errorf("condition fails: %v, want the condition's error as is", err)
	}
	if stored(SessionID{2}) {
		t.Error("condition fails: session stored")
	}
	if err := s.CreateSessionIf(&Session{ID: SessionID{3}, UserID: "nobody", ExpiresAt: end}, samePassword("h1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}

	// The password changes after the condition read the record and before
	// the session commits: the transaction must run again and refuse.
	calls := 0
	err := s.CreateSessionIf(&Session{ID: SessionID{4}, UserID: u.ID, ExpiresAt: end}, func(x *User) error {
		calls++
		if calls == 1 {
			if _, err := s.UpdateUser(u.ID, func(v *User) error { v.PasswordHash = "h2"; return nil }); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
		}
		return samePassword("h1")(x)
	})
	if err != errChanged || calls != 2 {
		t.Errorf("password changed meanwhile: %v after %d runs of the condition, want the refusal after 2", err, calls)
	}
	if stored(SessionID{4}) {
		t.Error("password changed meanwhile: session stored")
	}
}

func TestCreateSessionValidation(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for name, sess := range map[string]*Session{
		"no user":         {ExpiresAt: clk.Now().Add(time.Hour)},
		"no expiry":       {UserID: "u"},
		"already expired": {UserID: "u", ExpiresAt: clk.Now()},
		"already idle": {UserID: "u", ExpiresAt: clk.Now().Add(time.Hour), IdleTimeout: time.Minute,
			LastSeen: clk.Now().Add(-time.Hour)},
	} {
		if err := s.CreateSession(sess); err == nil {
			t.Errorf("%s: CreateSession succeeded", name)
		}
	}
}

// TestSessionLogicalExpiry uses the injected clock: no sleeping.
func TestSessionLogicalExpiry(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	abs := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: clk.Now().Add(time.Hour)})
	idle := mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "u", ExpiresAt: clk.Now().Add(24 * time.Hour), IdleTimeout: 10 * time.Minute})
	touched := mustCreateSession(t, s, &Session{ID: SessionID{3}, UserID: "u", ExpiresAt: clk.Now().Add(24 * time.Hour), IdleTimeout: 10 * time.Minute})

	clk.Advance(9 * time.Minute)
	s.TouchSession(touched.ID, clk.Now())
	clk.Advance(2 * time.Minute) // idle: 11 min since creation, 2 since the touch
	if _, err := s.Session(idle.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("idle session = %v, want ErrNotFound", err)
	}
	if _, err := s.SessionAuth(idle.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("idle session, SessionAuth = %v, want ErrNotFound", err)
	}
	if got, err := s.Session(touched.ID); err != nil || !got.LastSeen.Equal(clk.Now().Add(-2*time.Minute)) {
		t.Errorf("touched session = %+v, %v", got, err)
	}
	// Not resurrected from disk either.
	if _, err := s.Session(idle.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("idle session second lookup = %v", err)
	}
	if got, err := s.UserSessions("u"); err != nil || len(got) != 2 {
		t.Errorf("UserSessions = %d, %v; want 2 live", len(got), err)
	}

	clk.Advance(time.Hour)
	if _, err := s.Session(abs.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("session past ExpiresAt = %v, want ErrNotFound", err)
	}
	if _, err := s.SessionAuth(abs.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("session past ExpiresAt, SessionAuth = %v, want ErrNotFound", err)
	}
	// The flusher's sweep drops expired sessions from the index.
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := s.index.len(); n != 0 {
		t.Errorf("%d expired sessions still indexed after a sweep", n)
	}
}

// TestSessionPhysicalTTL waits (up to 5s) for Badger's TTL to remove a
// session record. The store's clock is frozen so only Badger's own expiry
// can make it disappear.
func TestSessionPhysicalTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a Badger TTL")
	}
	dir := t.TempDir()
	frozen := time.Now()
	opts := Options{Now: func() time.Time { return frozen }}
	s, err := Open(testStorage(t, dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	sess := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: frozen.Add(time.Second)})
	tok := &Token{Kind: "reset", Hash: [32]byte{1}, ExpiresAt: frozen.Add(time.Second)}
	if err := s.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := Open(testStorage(t, dir), opts)
		if err != nil {
			t.Fatal(err)
		}
		_, serr := s.Session(sess.ID)
		ids, _ := s.UserSessions("u")
		terr := s.db.View(func(txn kvTxn) error { return get(txn, tokenKey(tok.Kind, tok.Hash), new(Token)) })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if errors.Is(serr, ErrNotFound) && len(ids) == 0 && errors.Is(terr, ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still present after 5s: session %v, %d indexed, token %v", serr, len(ids), terr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTouchAndFlush(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	sess := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: clk.Now().Add(time.Hour)})
	t1 := clk.Now().Add(time.Minute)
	s.TouchSession(sess.ID, t1)
	s.TouchSession(sess.ID, t1.Add(-time.Second)) // older: ignored
	s.TouchSession(SessionID{42}, t1)             // not indexed: no-op
	if got, _ := s.Session(sess.ID); !got.LastSeen.Equal(t1) {
		t.Errorf("LastSeen = %v, want %v", got.LastSeen, t1)
	}
	if d, _ := diskSession(t, s, sess.ID); !d.LastSeen.Equal(sess.LastSeen) {
		t.Errorf("disk LastSeen = %v before Flush, want untouched %v", d.LastSeen, sess.LastSeen)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if d, _ := diskSession(t, s, sess.ID); !d.LastSeen.Equal(t1) {
		t.Errorf("disk LastSeen = %v after Flush, want %v", d.LastSeen, t1)
	}
	if dirty, saved, _ := slotOf(s, sess.ID); dirty || saved != t1.UnixNano() {
		t.Errorf("after Flush: dirty %v, saved %v; want clean, %v", dirty, saved, t1)
	}
	// The activity went under its own key, with the session's TTL; the
	// record itself was not rewritten.
	err := s.db.View(func(txn kvTxn) error {
		item, err := txn.Get(seenKey(sess.ID))
		if err != nil {
			return err
		}
		rec, err := txn.Get(sessionKey(sess.ID))
		if err != nil {
			return err
		}
		// Badger's TTLs count from its own clock: allow a second apart.
		if d := int64(item.ExpiresAt()) - int64(rec.ExpiresAt()); item.ExpiresAt() == 0 || d < -1 || d > 1 {
			t.Errorf("written activity expires at %d, the session at %d", item.ExpiresAt(), rec.ExpiresAt())
		}
		var r Session
		if err := get(txn, sessionKey(sess.ID), &r); err != nil {
			return err
		}
		if !r.LastSeen.Equal(sess.LastSeen) {
			t.Errorf("record rewritten: LastSeen %v", r.LastSeen)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFlusherRunsPeriodically(t *testing.T) {
	s := openTest(t, "", Options{FlushInterval: 20 * time.Millisecond})
	sess := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
	t1 := sess.LastSeen.Add(maxSeenGranularity) // due for writing
	s.TouchSession(sess.ID, t1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if d, _ := diskSession(t, s, sess.ID); d.LastSeen.Equal(t1) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("flusher did not write LastSeen")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeleteSession(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	sess := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: clk.Now().Add(time.Hour)})
	other := mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "u", ExpiresAt: clk.Now().Add(time.Hour)})
	s.TouchSession(sess.ID, clk.Now().Add(time.Minute))
	if err := s.DeleteSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(sess.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Session after delete = %v", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := diskSession(t, s, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted session on disk after Flush: %v", err)
	}
	list, err := s.UserSessions("u")
	if err != nil || len(list) != 1 || list[0].ID != other.ID {
		t.Errorf("UserSessions = %v, %v; want only the other session", list, err)
	}
	if err := s.DeleteSession(sess.ID); err != nil {
		t.Errorf("deleting a missing session: %v", err)
	}
}

func TestUserSessionsAndDeleteUserSessions(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i := range 5 {
		mustCreateSession(t, s, &Session{ID: SessionID{1, byte(i)}, UserID: "alice", ExpiresAt: clk.Now().Add(time.Hour)})
		clk.Advance(time.Second)
	}
	mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "alice2", ExpiresAt: clk.Now().Add(time.Hour)})
	s.TouchSession(SessionID{1, 3}, clk.Now().Add(time.Minute))

	list, err := s.UserSessions("alice")
	if err != nil || len(list) != 5 {
		t.Fatalf("UserSessions = %d, %v", len(list), err)
	}
	for i := 1; i < len(list); i++ {
		if list[i].CreatedAt.Before(list[i-1].CreatedAt) {
			t.Error("UserSessions not ordered oldest first")
		}
	}
	if !list[3].LastSeen.Equal(clk.Now().Add(time.Minute)) {
		t.Errorf("UserSessions LastSeen = %v, want the touched value", list[3].LastSeen)
	}

	n, err := s.DeleteUserSessions("alice")
	if err != nil || n != 5 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 5", n, err)
	}
	for i := range 5 {
		if _, err := s.Session(SessionID{1, byte(i)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("session %d after DeleteUserSessions: %v", i, err)
		}
	}
	if list, _ := s.UserSessions("alice"); len(list) != 0 {
		t.Errorf("UserSessions after delete = %d", len(list))
	}
	if list, _ := s.UserSessions("alice2"); len(list) != 1 {
		t.Errorf("alice2's sessions = %d, want 1 (prefix must not match)", len(list))
	}
	if n, err := s.DeleteUserSessions("alice"); err != nil || n != 0 {
		t.Errorf("second DeleteUserSessions = %d, %v", n, err)
	}
}

func TestConcurrentTouchAndDelete(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for i := range 16 {
		id := SessionID{byte(i)}
		mustCreateSession(t, s, &Session{ID: id, UserID: "u", ExpiresAt: clk.Now().Add(time.Hour)})
		wg.Go(func() {
			for j := range 200 {
				s.TouchSession(id, clk.Now().Add(time.Duration(j)*time.Second))
				if _, err := s.Session(id); err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
			}
			if err := s.DeleteSession(id); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		if _, err := diskSession(t, s, SessionID{byte(i)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("session %d resurrected: %v", i, err)
		}
		if ok, err := keyExists(s, seenKey(SessionID{byte(i)})); ok || err != nil {
			t.Errorf("session %d: activity left on disk (%v)", i, err)
		}
	}
}

func TestSessionHitDoesNotAllocate(t *testing.T) {
	s := openTest(t, "", Options{})
	sess := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: time.Now().Add(time.Hour), IdleTimeout: time.Hour})
	s.TouchSession(sess.ID, time.Now())
	// Measured once the index is built (in the background at open): until
	// then a lookup reads Badger, which allocates.
	waitIndexed(t, s)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := s.SessionAuth(sess.ID); err != nil {
			t.Fatal(err)
		}
		s.TouchSession(sess.ID, time.Now())
		if _, err := s.SessionAuth(SessionID{2}); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("SessionAuth (hit and miss) + TouchSession allocate %v times", n)
	}
}

func BenchmarkSessionHit(b *testing.B) {
	s := openTest(b, "", Options{})
	sess := mustCreateSession(b, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: time.Now().Add(time.Hour), IdleTimeout: time.Hour})
	s.TouchSession(sess.ID, time.Now())
	waitIndexed(b, s)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.SessionAuth(sess.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTouchSession(b *testing.B) {
	s := openTest(b, "", Options{})
	sess := mustCreateSession(b, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: time.Now().Add(time.Hour)})
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.TouchSession(sess.ID, now)
		}
	})
}

func TestActiveSessions(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now, FlushInterval: time.Hour})
	if all, err := s.ActiveSessions(clk.Now(), time.Time{}); len(all) != 0 || err != nil {
		t.Errorf("ActiveSessions of an empty store = %v, %v", all, err)
	}
	start := clk.Now()
	for i := range 3 {
		mustCreateSession(t, s, &Session{ID: SessionID{1, byte(i)}, UserID: "alice", ExpiresAt: start.Add(time.Hour)})
		clk.Advance(time.Second)
	}
	mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "bob", ExpiresAt: start.Add(time.Hour), IP: "192.0.2.1"})
	mustCreateSession(t, s, &Session{ID: SessionID{3}, UserID: "bob", ExpiresAt: start.Add(time.Minute)})
	mustCreateSession(t, s, &Session{ID: SessionID{4}, UserID: "carol", ExpiresAt: start.Add(time.Hour), IdleTimeout: time.Minute})
	touched := start.Add(90 * time.Second)
	s.TouchSession(SessionID{2}, touched) // in memory only: FlushInterval is an hour
	clk.Advance(2 * time.Minute)          // session 3 has ended, session 4 is idle

	all, err := s.ActiveSessions(clk.Now(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []SessionID
	for _, sess := range all {
		ids = append(ids, sess.ID)
	}
	want := []SessionID{{2}, {1, 2}, {1, 1}, {1, 0}}
	if !slices.Equal(ids, want) {
		t.Fatalf("ActiveSessions ids = %v, want %v (most recently active first)", ids, want)
	}
	if !all[0].LastSeen.Equal(touched) || all[0].UserID != "bob" || all[0].IP != "192.0.2.1" {
		t.Errorf("touched session = %+v, want LastSeen %v", all[0], touched)
	}
	// The window: only session 2 was active in the last minute.
	if recent, _ := s.ActiveSessions(clk.Now(), clk.Now().Add(-time.Minute)); len(recent) != 1 || recent[0].ID != (SessionID{2}) {
		t.Errorf("active in the last minute = %v; want session 2", recent)
	}
	// A later now hides everything.
	if all, _ := s.ActiveSessions(start.Add(time.Hour), time.Time{}); len(all) != 0 {
		t.Errorf("ActiveSessions at the end = %d", len(all))
	}
	// A deleted session is gone at once.
	if err := s.DeleteSession(SessionID{2}); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ActiveSessions(clk.Now(), time.Time{}); len(all) != 3 {
		t.Errorf("after a deletion: %d sessions, want 3", len(all))
	}
}

func TestDeleteUserSessionsExcept(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i := range 4 {
		mustCreateSession(t, s, &Session{ID: SessionID{1, byte(i)}, UserID: "alice", ExpiresAt: clk.Now().Add(time.Hour)})
	}
	mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "alice2", ExpiresAt: clk.Now().Add(time.Hour)})
	mustCreateSession(t, s, &Session{ID: SessionID{3}, UserID: "bob", ExpiresAt: clk.Now().Add(time.Hour)})
	// Revocation must reach the index, not just the disk.
	for _, id := range []SessionID{{1, 0}, {1, 1}, {1, 2}, {1, 3}, {2}, {3}} {
		if _, err := s.Session(id); err != nil {
			t.Fatal(err)
		}
	}
	keep := SessionID{1, 2}
	n, err := s.DeleteUserSessionsExcept("alice", keep)
	if err != nil || n != 3 {
		t.Fatalf("DeleteUserSessionsExcept = %d, %v; want 3", n, err)
	}
	for _, tc := range []struct {
		id   SessionID
		want error
	}{
		{SessionID{1, 0}, ErrNotFound},
		{SessionID{1, 1}, ErrNotFound},
		{SessionID{1, 3}, ErrNotFound},
		{keep, nil},
		{SessionID{2}, nil}, // alice2: the prefix must not match
		{SessionID{3}, nil},
	} {
		if _, err := s.Session(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("Session(%v) = %v, want %v", tc.id, err, tc.want)
		}
		if _, err := diskSession(t, s, tc.id); !errors.Is(err, tc.want) {
			t.Errorf("disk session %v = %v, want %v", tc.id, err, tc.want)
		}
	}
	if list, err := s.UserSessions("alice"); err != nil || len(list) != 1 || list[0].ID != keep {
		t.Errorf("UserSessions after = %v, %v", list, err)
	}
	// Again: nothing left to delete.
	if n, err := s.DeleteUserSessionsExcept("alice", keep); err != nil || n != 0 {
		t.Errorf("second call = %d, %v", n, err)
	}
	// keep belonging to someone else spares nothing of this user.
	if n, err := s.DeleteUserSessionsExcept("alice", SessionID{3}); err != nil || n != 1 {
		t.Errorf("foreign keep = %d, %v; want 1", n, err)
	}
	if _, err := s.Session(SessionID{3}); err != nil {
		t.Errorf("the other user's session was deleted: %v", err)
	}
	if n, err := s.DeleteUserSessionsExcept("nobody", keep); err != nil || n != 0 {
		t.Errorf("user without sessions = %d, %v", n, err)
	}
}

// TestLastSeenWriteGranularity: the periodic flush writes a
// session's activity only once it moved by a tenth of its idle timeout (at
// most 15 minutes, and 15 minutes without one) since the last write; Flush
// writes everything.
func TestLastSeenWriteGranularity(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now, FlushInterval: time.Hour})
	t0 := clk.Now()
	long := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "u", ExpiresAt: t0.Add(time.Hour)})
	short := mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "u", ExpiresAt: t0.Add(time.Hour), IdleTimeout: 5 * time.Minute})
	m := time.Minute
	steps := []struct {
		touch     time.Duration // activity at t0 + touch
		all       bool          // Flush instead of the periodic flush
		wantLong  time.Duration // LastSeen on disk afterwards, t0 + …
		wantShort time.Duration
	}{
		{touch: 20 * time.Second, wantLong: 0, wantShort: 0},
		{touch: 40 * time.Second, wantLong: 0, wantShort: 40 * time.Second}, // 30 s granularity
		{touch: 61 * time.Second, wantLong: 0, wantShort: 40 * time.Second},
		{touch: 15 * m, wantLong: 15 * m, wantShort: 15 * m},
		{touch: 16 * m, wantLong: 15 * m, wantShort: 16 * m},
		{touch: 17 * m, all: true, wantLong: 17 * m, wantShort: 17 * m},
	}
	for i, st := range steps {
		s.TouchSession(long.ID, t0.Add(st.touch))
		s.TouchSession(short.ID, t0.Add(st.touch))
		var err error
		if st.all {
			err = s.Flush()
		} else {
			err = s.flushLocked(false)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			id   SessionID
			want time.Duration
		}{{long.ID, st.wantLong}, {short.ID, st.wantShort}} {
			if d, err := diskSession(t, s, c.id); err != nil || !d.LastSeen.Equal(t0.Add(c.want)) {
				t.Errorf("step %d, session %d: disk LastSeen t0+%v, %v; want t0+%v", i, c.id[0], d.LastSeen.Sub(t0), err, c.want)
			}
		}
	}
	// The memory copy is always exact.
	if got, _ := s.Session(long.ID); !got.LastSeen.Equal(t0.Add(17 * m)) {
		t.Errorf("indexed LastSeen = t0+%v", got.LastSeen.Sub(t0))
	}
}

// keyExists reports whether key is in Badger.
func keyExists(s *Store, key []byte) (ok bool, err error) {
	err = s.db.View(func(txn kvTxn) error {
		ok, err = exists(txn, key)
		return err
	})
	return ok, err
}
