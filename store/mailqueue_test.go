package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMailQueue: a queued message is due at once, survives a reopen, is
// claimed by one worker only, waits out its retry delay and is gone once
// done; preferences are per user and the zero value is not stored.
func TestMailQueue(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	q := s.MailQueue()
	m := &QueuedMail{Kind: "password_changed", To: "bea@example.com", Subject: "s", Text: "t"}
	if err := q.Put(m); err != nil || m.ID == "" {
		t.Fatalf("put: %v (id %q)", err, m.ID)
	}
	if err := q.Put(&QueuedMail{To: "later@example.com", NextAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{Now: clk.Now})
	q = s.MailQueue()
	due, err := q.Next(clk.Now(), 10)
	if err != nil || len(due) != 1 || due[0].ID != m.ID || due[0].Text != "t" {
		t.Fatalf("after reopening, due: %+v, %v; want the one message due now", due, err)
	}
	now := clk.Now()
	first, second := due[0], due[0]
	if ok, err := q.Claim(&first, now, now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("first claim: %t %v", ok, err)
	}
	if ok, err := q.Claim(&second, now, now.Add(time.Minute)); ok || err != nil {
		t.Fatalf("second claim of a claimed message: %t %v, want refused", ok, err)
	}
	first.Attempts, first.NextAt, first.LastError = 1, now.Add(10*time.Second), "refused"
	if err := q.Retry(&first); err != nil {
		t.Fatal(err)
	}
	if due, _ := q.Next(now.Add(9*time.Second), 10); len(due) != 0 {
		t.Errorf("due before its retry time: %+v", due)
	}
	due, _ = q.Next(now.Add(10*time.Second), 10)
	if len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "refused" {
		t.Fatalf("at its retry time: %+v", due)
	}
	if err := q.Done(m.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Len(); n != 1 {
		t.Errorf("%d messages after done, want the later one", n)
	}
	// A retry of a message gone meanwhile does not bring it back.
	if err := q.Retry(&first); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Len(); n != 1 {
		t.Errorf("a retry after done brought the message back")
	}

	if p, err := q.Prefs("u1"); err != nil || p != (MailPrefs{}) {
		t.Fatalf("prefs of a user with none: %+v %v", p, err)
	}
	if _, err := q.SetPrefs("u1", func(p *MailPrefs) { p.NoNewDevice, p.TimeZone = true, "Europe/Paris" }); err != nil {
		t.Fatal(err)
	}
	if p, _ := q.Prefs("u1"); !p.NoNewDevice || p.NoNewCredential || p.TimeZone != "Europe/Paris" {
		t.Errorf("prefs: %+v", p)
	}
	if p, _ := q.Prefs("u2"); p != (MailPrefs{}) {
		t.Errorf("another user's prefs: %+v", p)
	}
	if _, err := q.SetPrefs("u1", func(p *MailPrefs) { *p = MailPrefs{} }); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, prefixMailPrefs); n != 0 {
		t.Errorf("%d preference records after resetting to the defaults, want 0", n)
	}
	// A deleted user's preferences go with the account.
	u := mustCreate(t, s, "gone")
	if _, err := q.SetPrefs(u.ID, func(p *MailPrefs) { p.NoNewDevice = true }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, prefixMailPrefs); n != 0 {
		t.Errorf("%d preference records after deleting the user, want 0", n)
	}
}

// TestClaimDigest: of many claims of the same due digest at once (nodes
// sharing one database), exactly one wins; a claim with a stale mark
// loses; the winner's time is stored.
func TestClaimDigest(t *testing.T) {
	clk := newClock()
	s := openTest(t, t.TempDir(), Options{Now: clk.Now})
	q := s.MailQueue()
	if _, err := q.SetPrefs("u1", func(p *MailPrefs) { p.Digest = "daily" }); err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := q.ClaimDigest("u1", time.Time{}, now)
			if err != nil {
				t.Errorf("claim: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d claims won, want 1", n)
	}
	if ok, err := q.ClaimDigest("u1", time.Time{}, now.Add(time.Hour)); ok || err != nil {
		t.Errorf("a claim with a stale mark: %t %v, want refused", ok, err)
	}
	if ok, err := q.ClaimDigest("u1", now, now.Add(24*time.Hour)); !ok || err != nil {
		t.Errorf("the next period's claim: %t %v, want won", ok, err)
	}
	if _, err := q.ClaimDigest("nobody", time.Time{}, now); err == nil {
		t.Error("a claim for a user without preferences succeeded")
	}
}
