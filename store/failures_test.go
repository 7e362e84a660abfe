package store

import (
	"testing"
	"time"
)

// expiresAt returns the Badger expiry (unix seconds, 0 for none) of key.
func expiresAt(t *testing.T, s *Store, key []byte) uint64 {
	t.Helper()
	var exp uint64
	err := s.db.View(func(txn kvTxn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		exp = item.ExpiresAt()
		return nil
	})
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return exp
}

func TestAddFailure(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	start := clk.Now()
	const window = time.Minute
	steps := []struct {
		key       string
		advance   time.Duration // before the failure
		wantCount int
		wantFirst time.Time
	}{
		{"u1", 0, 1, start},
		{"u1", 10 * time.Second, 2, start},
		{"u2", 0, 1, start.Add(10 * time.Second)}, // keys are independent
		{"u1", 50*time.Second - 1, 3, start},      // last instant of the window
		{"u1", 1, 1, start.Add(time.Minute)},      // the window has ended: a new count
		{"u1", 30 * time.Second, 2, start.Add(time.Minute)},
		{"u2", 0, 1, start.Add(90 * time.Second)},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		n, first, err := s.AddFailure(st.key, window, clk.Now())
		if err != nil || n != st.wantCount || !first.Equal(st.wantFirst) {
			t.Fatalf("step %d: AddFailure(%s) = %d, %v, %v; want %d, %v", i, st.key, n, first.Sub(start), err, st.wantCount, st.wantFirst.Sub(start))
		}
	}
	// The record carries a Badger TTL, so stale counters disappear.
	if exp := expiresAt(t, s, failuresKey("u1")); exp == 0 {
		t.Error("failure counter has no TTL")
	}
	for _, tc := range []struct {
		key  string
		at   time.Time
		want int
	}{
		{"u1", clk.Now(), 2},
		{"u1", start.Add(2*time.Minute - 1), 2},
		{"u1", start.Add(2 * time.Minute), 0}, // window over
		{"u2", clk.Now(), 1},
		{"nobody", clk.Now(), 0},
	} {
		if n, err := s.Failures(tc.key, tc.at); err != nil || n != tc.want {
			t.Errorf("Failures(%s, +%v) = %d, %v; want %d", tc.key, tc.at.Sub(start), n, err, tc.want)
		}
	}
	if err := s.ClearFailures("u1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Failures("u1", clk.Now()); n != 0 {
		t.Errorf("Failures after ClearFailures = %d", n)
	}
	if n, _ := s.Failures("u2", clk.Now()); n != 1 {
		t.Errorf("ClearFailures cleared another key: %d", n)
	}
	if err := s.ClearFailures("nobody"); err != nil {
		t.Errorf("ClearFailures(missing) = %v", err)
	}
	if n, _, _ := s.AddFailure("u1", window, clk.Now()); n != 1 {
		t.Errorf("AddFailure after clear = %d, want 1", n)
	}
	for _, bad := range []struct {
		key    string
		window time.Duration
	}{{"", window}, {"a\x00b", window}, {"u1", 0}, {"u1", -time.Second}} {
		if _, _, err := s.AddFailure(bad.key, bad.window, clk.Now()); err == nil {
			t.Errorf("AddFailure(%q, %v) succeeded", bad.key, bad.window)
		}
	}
}

func TestLocks(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	now := clk.Now()
	if until, locked, err := s.Lock("u1", now); err != nil || locked || !until.IsZero() {
		t.Errorf("Lock(never locked) = %v, %v, %v", until, locked, err)
	}
	for _, bad := range []struct {
		key   string
		until time.Time
	}{{"", now.Add(time.Minute)}, {"a\x00b", now.Add(time.Minute)}, {"u1", now}, {"u1", now.Add(-time.Minute)}} {
		if err := s.PutLock(bad.key, bad.until); err == nil {
			t.Errorf("PutLock(%q, %v) succeeded", bad.key, bad.until.Sub(now))
		}
	}
	end := now.Add(10 * time.Minute)
	if err := s.PutLock("u1", end); err != nil {
		t.Fatal(err)
	}
	if exp := expiresAt(t, s, lockKey("u1")); exp == 0 {
		t.Error("lock has no TTL")
	}
	for _, tc := range []struct {
		key        string
		at         time.Time
		wantLocked bool
	}{
		{"u1", now, true},
		{"u1", end.Add(-1), true},
		{"u1", end, false},
		{"u2", now, false},
	} {
		until, locked, err := s.Lock(tc.key, tc.at)
		wantUntil := time.Time{}
		if tc.wantLocked {
			wantUntil = end
		}
		if err != nil || locked != tc.wantLocked || !until.Equal(wantUntil) {
			t.Errorf("Lock(%s, +%v) = %v, %v, %v; want %v, %v", tc.key, tc.at.Sub(now), until, locked, err, wantUntil, tc.wantLocked)
		}
	}
	// Replacing shortens or extends.
	if err := s.PutLock("u1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, locked, _ := s.Lock("u1", now.Add(2*time.Minute)); locked {
		t.Error("the shorter replacement lock was not applied")
	}
	// Durable across a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{Now: clk.Now})
	if until, locked, err := s.Lock("u1", now); err != nil || !locked || !until.Equal(now.Add(time.Minute)) {
		t.Errorf("Lock after reopen = %v, %v, %v", until, locked, err)
	}
	if err := s.ClearLock("u1"); err != nil {
		t.Fatal(err)
	}
	if _, locked, _ := s.Lock("u1", now); locked {
		t.Error("locked after ClearLock")
	}
	if err := s.ClearLock("u1"); err != nil {
		t.Errorf("ClearLock(missing) = %v", err)
	}
}

// TestLockCache: Lock reads the locks from memory (the guard's hot path
// checks one per app password), and memory agrees with the records: a
// lock set before the first read, set or cleared after it, and after a
// reopen; ended locks are dropped.
func TestLockCache(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	now := clk.Now()
	if err := s.PutLock("before", now.Add(time.Hour)); err != nil { // before the cache is loaded
		t.Fatal(err)
	}
	locked := func(s *Store, key string) bool {
		t.Helper()
		_, l, err := s.Lock(key, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if !locked(s, "before") || locked(s, "after") {
		t.Fatal("the loaded cache disagrees with the records")
	}
	if err := s.PutLock("after", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearLock("before"); err != nil {
		t.Fatal(err)
	}
	if locked(s, "before") || !locked(s, "after") {
		t.Fatal("the cache missed a PutLock or ClearLock")
	}
	// The cache alone answers: with the record gone behind its back, the
	// lock stays (only PutLock and ClearLock write locks while open).
	if err := s.db.Update(func(txn kvTxn) error { return txn.Delete(lockKey("after")) }); err != nil {
		t.Fatal(err)
	}
	if !locked(s, "after") {
		t.Fatal("Lock read the disk")
	}
	clk.Advance(2 * time.Minute)
	if err := s.PutLock("later", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.locks.mu.RLock()
	_, kept := s.locks.until["after"]
	s.locks.mu.RUnlock()
	if kept || locked(s, "after") {
		t.Error("an ended lock was kept")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{Now: clk.Now})
	if !locked(s, "later") || locked(s, "before") {
		t.Error("after a reopen")
	}
}

// TestAddFailureBurst: a burst of concurrent failures of one key is
// counted in full, none lost to transaction conflicts (a lost count is a
// free guess for an attacker who sends wrong passwords in parallel).
func TestAddFailureBurst(t *testing.T) {
	s := openTest(t, "", Options{})
	const n = 64
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			_, _, err := s.AddFailure("burst", time.Hour, time.Now())
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("AddFailure: %v", err)
		}
	}
	if got, err := s.Failures("burst", time.Now()); err != nil || got != n {
		t.Errorf("Failures = %d, %v; want %d", got, err, n)
	}
}
