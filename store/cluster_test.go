package store

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/pgtest"
)

// openNodes opens two stores on one PostgreSQL database: two nodes.
func openNodes(t *testing.T, dsn string) (a, b *Store) {
	t.Helper()
	open := func() *Store {
		s, err := Open(dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b = open(), open()
	waitFor(t, "both session indexes built", func() bool {
		return a.index.complete.Load() && b.index.complete.Load()
	})
	return a, b
}

// waitFor polls cond for up to 5 s and returns how long it took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// TestClusterPropagation: what one node writes, the other node's caches
// follow within a second: new and ended sessions (the session index),
// disabled, changed and deleted users (the directory and user cache),
// revoked API keys and app passwords, lockouts, and settings (through the
// OnRemoteChange hook). Each figure is logged.
func TestClusterPropagation(t *testing.T) {
	pgOnly(t)
	a, b := openNodes(t, testPG.Database(t))
	var mu sync.Mutex
	var kinds []string
	b.cluster.OnRemoteChange(func(p map[string]bool, all bool) {
		mu.Lock()
		defer mu.Unlock()
		for k := range p {
			kinds = append(kinds, k)
		}
	})
	u := mustCreateUser(t, a, &User{Username: "alice", Role: "user"})
	var took []time.Duration
	measure := func(what string, cond func() bool) {
		d := waitFor(t, what, cond)
		if d > time.Second {
			t.Errorf("%s: took %v, want under 1 s", what, d)
		}
		t.Logf("%-40s %v", what, d)
		took = append(took, d)
	}
	measure("new user seen on B", func() bool { _, err := b.Account(u.ID); return err == nil })

	sess := mustCreateSession(t, a, &Session{ID: SessionID{1}, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	measure("new session accepted on B", func() bool { _, err := b.SessionAuth(sess.ID); return err == nil })
	if err := a.DeleteSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	measure("ended session refused on B", func() bool {
		_, err := b.SessionAuth(sess.ID)
		return errors.Is(err, ErrNotFound)
	})

	if _, err := a.UpdateUser(u.ID, func(u *User) error { u.Role = "admin"; return nil }); err != nil {
		t.Fatal(err)
	}
	measure("role change seen on B", func() bool { acct, _ := b.Account(u.ID); return acct.Role == "admin" })
	if _, err := b.User(u.ID); err != nil { // cached on B
		t.Fatal(err)
	}
	if _, err := a.UpdateUser(u.ID, func(u *User) error { u.Disabled = true; u.Groups = []string{"ops"}; return nil }); err != nil {
		t.Fatal(err)
	}
	measure("disable and group change seen on B", func() bool {
		acct, _ := b.Account(u.ID)
		cached, _ := b.User(u.ID)
		return acct.Disabled && slices.Equal(acct.Groups, []string{"ops"}) && cached.Disabled
	})

	k := &APIKey{UserID: u.ID, Hash: [32]byte{7}}
	if err := a.CreateAPIKey(k); err != nil {
		t.Fatal(err)
	}
	if _, err := b.APIKeyByHash(k.Hash); err != nil { // cached on B
		t.Fatal(err)
	}
	if err := a.DeleteAPIKey(k.ID); err != nil {
		t.Fatal(err)
	}
	measure("revoked API key refused on B", func() bool {
		_, err := b.APIKeyByHash(k.Hash)
		return errors.Is(err, ErrNotFound)
	})

	bob := mustCreateUser(t, a, &User{Username: "bob"})
	p := &AppPassword{UserID: bob.ID, Hash: [32]byte{8}, Name: "phone"}
	if err := a.CreateAppPassword(p, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob on B", func() bool { _, err := b.Account(bob.ID); return err == nil })
	if _, err := b.MatchAppPassword(bob.ID, p.Hash); err != nil { // cached on B
		t.Fatal(err)
	}
	if _, err := a.DeleteAppPassword(p.ID); err != nil {
		t.Fatal(err)
	}
	measure("revoked app password refused on B", func() bool {
		_, err := b.MatchAppPassword(bob.ID, p.Hash)
		return errors.Is(err, ErrNotFound)
	})

	if _, locked, err := b.Lock("user:bob", time.Now()); err != nil || locked { // lock cache loaded on B
		t.Fatal(locked, err)
	}
	if err := a.PutLock("user:bob", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	measure("lockout enforced on B", func() bool { _, locked, _ := b.Lock("user:bob", time.Now()); return locked })

	if err := a.PutSetting("settings", map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	measure("setting change told on B", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(kinds, prefixSetting)
	})

	if err := a.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	measure("deleted user gone on B", func() bool {
		_, err := b.Account(u.ID)
		_, uerr := b.User(u.ID)
		return errors.Is(err, ErrNotFound) && errors.Is(uerr, ErrNotFound)
	})
	slices.Sort(took)
	t.Logf("propagation over %d changes: median %v, max %v", len(took), took[len(took)/2], took[len(took)-1])
}

// TestClusterLostNotifications: a node whose notification connection is cut
// (its backend terminated) refuses what its caches would answer until it
// has reconnected and resynchronised; a revocation made meanwhile on the
// other node is then refused.
func TestClusterLostNotifications(t *testing.T) {
	pgOnly(t)
	dsn := testPG.Database(t)
	a, b := openNodes(t, dsn)
	u := mustCreateUser(t, a, &User{Username: "carol"})
	sess := mustCreateSession(t, a, &Session{ID: SessionID{1}, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	keep := mustCreateSession(t, a, &Session{ID: SessionID{2}, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	waitFor(t, "sessions on B", func() bool {
		_, e1 := b.SessionAuth(sess.ID)
		_, e2 := b.SessionAuth(keep.ID)
		return e1 == nil && e2 == nil
	})
	resyncs := b.cluster.resyncs.Load()
	pg := b.db.(*pgKV)
	// B stays cut off for a second: A revokes meanwhile, and the notice
	// is lost to B.
	pg.reconnectDelay.Store(int64(time.Second))
	var ok bool
	pgQuery(t, dsn, "SELECT pg_terminate_backend("+strconv.Itoa(int(pg.listenPID.Load()))+")", &ok)
	waitFor(t, "B untrusts its caches", func() bool { return !b.cluster.Synchronised() })
	if _, err := b.SessionAuth(keep.ID); !errors.Is(err, ErrUnsynchronised) {
		t.Errorf("SessionAuth while unsynchronised: %v, want ErrUnsynchronised", err)
	}
	if _, err := b.Account(u.ID); !errors.Is(err, ErrUnsynchronised) {
		t.Errorf("Account while unsynchronised: %v, want ErrUnsynchronised", err)
	}
	if err := a.DeleteSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	if b.cluster.resyncs.Load() != resyncs {
		t.Fatal("B resynchronised before A's revocation: the test proves nothing")
	}
	d := waitFor(t, "B resynchronised", func() bool { return b.cluster.Synchronised() })
	t.Logf("B back in %v", d)
	if _, err := b.SessionAuth(sess.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("session revoked while B was cut off: %v, want ErrNotFound", err)
	}
	if _, err := b.SessionAuth(keep.ID); err != nil {
		t.Errorf("live session after the resync: %v", err)
	}
}

// TestClusterDatabaseRestart: when PostgreSQL stops, both nodes fail
// closed; when it is back they resynchronise, and a revocation made right
// after the restart reaches the other node.
func TestClusterDatabaseRestart(t *testing.T) {
	pgOnly(t)
	srv := pgtest.StartT(t)
	a, b := openNodes(t, srv.Database(t))
	u := mustCreateUser(t, a, &User{Username: "dave"})
	sess := mustCreateSession(t, a, &Session{ID: SessionID{1}, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	waitFor(t, "session on B", func() bool { _, err := b.SessionAuth(sess.ID); return err == nil })
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Store{a, b} {
		waitFor(t, "node untrusts its caches", func() bool { return !n.cluster.Synchronised() })
		if _, err := n.SessionAuth(sess.ID); !errors.Is(err, ErrUnsynchronised) {
			t.Errorf("SessionAuth with the database down: %v, want ErrUnsynchronised", err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Store{a, b} {
		d := waitFor(t, "node resynchronised", func() bool { return n.cluster.Synchronised() })
		t.Logf("resynchronised %v after the restart", d)
		if _, err := n.SessionAuth(sess.ID); err != nil {
			t.Errorf("session after the restart: %v", err)
		}
	}
	if err := a.DeleteSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revocation after the restart reaches B", func() bool {
		_, err := b.SessionAuth(sess.ID)
		return errors.Is(err, ErrNotFound)
	})
}

// TestClusterBigRevocation: ending many sessions in one transaction (more
// keys than one notice holds) reaches the other node key by key, in
// several notices, without a resynchronisation (which would refuse every
// request while it runs).
func TestClusterBigRevocation(t *testing.T) {
	pgOnly(t)
	a, b := openNodes(t, testPG.Database(t))
	u := mustCreateUser(t, a, &User{Username: "erin"})
	var ids []SessionID
	for i := range 300 {
		id := SessionID{byte(i), byte(i >> 8), 9}
		mustCreateSession(t, a, &Session{ID: id, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
		ids = append(ids, id)
	}
	waitFor(t, "300 sessions on B", func() bool { _, err := b.SessionAuth(ids[299]); return err == nil })
	resyncs := b.cluster.resyncs.Load()
	if n, err := a.DeleteUserSessions(u.ID); err != nil || n != 300 {
		t.Fatal(n, err)
	}
	d := waitFor(t, "every session refused on B", func() bool {
		for _, id := range ids {
			if _, err := b.SessionAuth(id); err == nil {
				return false
			}
		}
		return true
	})
	t.Logf("300 sessions ended on A, refused on B after %v", d)
	if b.cluster.resyncs.Load() != resyncs {
		t.Error("B resynchronised instead of applying the notices")
	}
}

func TestChangeSetPayloads(t *testing.T) {
	var c changeSet
	for i := range 1000 {
		c.add(sessionKey(SessionID{byte(i), byte(i >> 8)}))
	}
	got := map[string]bool{}
	for _, p := range c.payloads("node") {
		if len(p) > pgNotifyMax {
			t.Fatalf("a payload of %d bytes", len(p))
		}
		node, keys, all, err := parseNotice(p)
		if err != nil || all || node != "node" {
			t.Fatal(node, all, err)
		}
		for _, k := range keys {
			got[string(k)] = true
		}
	}
	if len(got) != 1000 {
		t.Errorf("%d keys came through, want 1000", len(got))
	}
	for i := range 100_000 {
		c.add(sessionKey(SessionID{byte(i), byte(i >> 8), byte(i >> 16), 1}))
	}
	if p := c.payloads("node"); len(p) != 1 || !strings.HasSuffix(p[0], "|*") {
		t.Errorf("101,000 keys: %d payloads, want one resync notice", len(p))
	}
}

// TestClusterIdlePing: a silent notification connection is pinged, not
// dropped: the listener keeps its connection (same backend), does not
// resynchronise, and still delivers.
func TestClusterIdlePing(t *testing.T) {
	pgOnly(t)
	a, b := openNodes(t, testPG.Database(t))
	pg := b.db.(*pgKV)
	pid, resyncs := pg.listenPID.Load(), b.cluster.resyncs.Load()
	pg.idleOverride.Store(int64(20 * time.Millisecond))
	// A notice ends the wait begun with the default silence; the next
	// waits use 20 ms.
	first := mustCreateUser(t, a, &User{Username: "first"})
	waitFor(t, "a change reaches B", func() bool { _, err := b.Account(first.ID); return err == nil })
	time.Sleep(300 * time.Millisecond) // about 15 pings
	if pg.listenPID.Load() != pid || b.cluster.resyncs.Load() != resyncs || !b.cluster.Synchronised() {
		t.Fatalf("after idle pings: backend %d (was %d), resyncs %d (was %d)", pg.listenPID.Load(), pid, b.cluster.resyncs.Load(), resyncs)
	}
	u := mustCreateUser(t, a, &User{Username: "frank"})
	waitFor(t, "a change after the pings reaches B", func() bool { _, err := b.Account(u.ID); return err == nil })
}

// TestClusterActivity: the activity one node writes back reaches the
// other node's index (its idle-timeout check), without that node writing
// it again.
func TestClusterActivity(t *testing.T) {
	pgOnly(t)
	a, b := openNodes(t, testPG.Database(t))
	u := mustCreateUser(t, a, &User{Username: "gina"})
	now := time.Now()
	sess := mustCreateSession(t, a, &Session{ID: SessionID{3}, UserID: u.ID, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour})
	waitFor(t, "session on B", func() bool { _, err := b.SessionAuth(sess.ID); return err == nil })
	later := now.Add(20 * time.Minute)
	a.TouchSession(sess.ID, later)
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, "A's activity in B's index", func() bool { return b.index.lastSeen(sess.ID) == later.UnixNano() })
	t.Logf("activity written back on A seen by B after %v", d)
	if ws := b.index.sweep(true, time.Now().UnixNano()); len(ws) != 0 {
		t.Errorf("B would write back A's activity again: %v", ws)
	}
}
