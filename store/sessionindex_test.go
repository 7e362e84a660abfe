package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestSessionIndexBuildRules drives the index's own rules: what a build or a
// lookup may add while it is incomplete, and that nothing removed comes
// back.
func TestSessionIndexBuildRules(t *testing.T) {
	end := time.Unix(2_000_000_000, 0)
	sess := func(b byte) *Session { return &Session{ID: SessionID{b}, UserID: "u", ExpiresAt: end} }
	ix := newSessionIndex()
	t.Cleanup(ix.release)
	stale := ix.startBuild()
	epoch := ix.startBuild()
	ix.add(sess(1))
	ix.remove(SessionID{2}) // deleted while a build reads: tombstone
	steps := []struct {
		name  string
		sess  *Session
		epoch uint64
		want  bool
	}{
		{"build adds a new session", sess(3), epoch, true},
		{"build does not replace one indexed since", sess(1), epoch, false},
		{"build does not add back a deleted one", sess(2), epoch, false},
		{"a replaced build adds nothing", sess(4), stale, false},
		{"a lookup adds what it read", sess(5), 0, true},
		{"a lookup does not add back a deleted one", sess(2), 0, false},
	}
	for _, st := range steps {
		if got := ix.fill(st.sess, st.epoch); got != st.want {
			t.Errorf("%s: fill = %v, want %v", st.name, got, st.want)
		}
	}
	if ix.finishBuild(stale) || ix.complete.Load() {
		t.Fatal("a replaced build completed the index")
	}
	if !ix.finishBuild(epoch) || !ix.complete.Load() {
		t.Fatal("the current build did not complete the index")
	}
	if ix.fill(sess(6), 0) {
		t.Error("a lookup added a session to a complete index")
	}
	ix.remove(SessionID{3})
	if ix.tombstones != nil {
		t.Error("tombstones kept once complete")
	}
	for b, want := range map[byte]bool{1: true, 2: false, 3: false, 4: false, 5: true, 6: false} {
		if _, ok := ix.get(SessionID{b}); ok != want {
			t.Errorf("session %d indexed = %v, want %v", b, ok, want)
		}
	}
}

// TestSessionIndexSlotReuse: a freed slot given to another session carries
// nothing of the old one.
func TestSessionIndexSlotReuse(t *testing.T) {
	end := time.Unix(2_000_000_000, 0)
	ix := newSessionIndex()
	t.Cleanup(ix.release)
	ix.add(&Session{ID: SessionID{1}, UserID: "admin", ExpiresAt: end, LastSeen: end.Add(-time.Hour),
		SecondFactor: true, Remember: true, ImpersonatorID: "x", ActorSession: "y"})
	ix.touch(SessionID{1}, end.Add(-time.Minute).UnixNano())
	ix.remove(SessionID{1})
	ix.add(&Session{ID: SessionID{2}, UserID: "guest", ExpiresAt: end.Add(-time.Second), IdleTimeout: time.Minute,
		LastSeen: end.Add(-2 * time.Hour)})
	if ix.next != 1 {
		t.Errorf("%d slots handed out, want the freed one reused", ix.next)
	}
	a, ok := ix.get(SessionID{2})
	want := SessionAuth{ID: SessionID{2}, UserID: "guest", ExpiresAt: end.Add(-time.Second), IdleTimeout: time.Minute,
		LastSeen: end.Add(-2 * time.Hour)}
	if !ok || a.ID != want.ID || a.UserID != want.UserID || !a.ExpiresAt.Equal(want.ExpiresAt) || a.IdleTimeout != want.IdleTimeout ||
		!a.LastSeen.Equal(want.LastSeen) || a.SecondFactor || a.Remember || a.Impersonation {
		t.Errorf("reused slot = %+v, want %+v", a, want)
	}
	if dirty, _, _ := func() (bool, int64, bool) {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		return ix.slot(0).dirty.Load(), 0, true
	}(); dirty {
		t.Error("reused slot is dirty")
	}
	if _, ok := ix.get(SessionID{1}); ok {
		t.Error("the removed session is still indexed")
	}
}

// TestSessionIndexRebuiltOnOpen: a reopened store's index holds exactly the
// live sessions, with the activity written back (which can keep alive a
// session whose record alone looks idle).
func TestSessionIndexRebuiltOnOpen(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s, err := Open(testStorage(t, dir), Options{Now: clk.Now, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	day := t0.Add(24 * time.Hour)
	plain := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: "alice", ExpiresAt: day, Methods: []string{"password"}})
	busy := mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: "alice", ExpiresAt: day, IdleTimeout: 10 * time.Minute, SecondFactor: true})
	idle := mustCreateSession(t, s, &Session{ID: SessionID{3}, UserID: "bob", ExpiresAt: day, IdleTimeout: 10 * time.Minute})
	imp := mustCreateSession(t, s, &Session{ID: SessionID{4}, UserID: "bob", ExpiresAt: day, ImpersonatorID: "carol",
		ImpersonatorName: "carol", ActorSession: SessionID{9}.String(), Remember: true})
	gone := mustCreateSession(t, s, &Session{ID: SessionID{5}, UserID: "bob", ExpiresAt: day})
	short := mustCreateSession(t, s, &Session{ID: SessionID{6}, UserID: "dave", ExpiresAt: t0.Add(time.Hour)})
	clk.Advance(9 * time.Minute)
	s.TouchSession(busy.ID, clk.Now())
	if err := s.DeleteSession(gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // writes the activity
		t.Fatal(err)
	}

	clk.Advance(6 * time.Minute) // idle: 15 min without activity; busy: 6
	s, err = Open(testStorage(t, dir), Options{Now: clk.Now, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitIndexed(t, s)
	for _, tc := range []struct {
		name string
		sess *Session
		live bool
		seen time.Time
	}{
		{"plain", plain, true, t0},
		{"busy (kept alive by its written-back activity)", busy, true, t0.Add(9 * time.Minute)},
		{"idle", idle, false, time.Time{}},
		{"impersonation", imp, true, t0},
		{"deleted", gone, false, time.Time{}},
		{"short", short, true, t0},
	} {
		a, err := s.SessionAuth(tc.sess.ID)
		if !tc.live {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: SessionAuth = %+v, %v; want ErrNotFound", tc.name, a, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: SessionAuth: %v", tc.name, err)
			continue
		}
		want := SessionAuth{ID: tc.sess.ID, UserID: tc.sess.UserID, LastSeen: tc.seen, ExpiresAt: tc.sess.ExpiresAt,
			IdleTimeout: tc.sess.IdleTimeout, Remember: tc.sess.Remember, SecondFactor: tc.sess.SecondFactor,
			Impersonation: tc.sess.ImpersonatorID != ""}
		if a.ID != want.ID || a.UserID != want.UserID || !a.LastSeen.Equal(want.LastSeen) || !a.ExpiresAt.Equal(want.ExpiresAt) ||
			a.IdleTimeout != want.IdleTimeout || a.Remember != want.Remember || a.SecondFactor != want.SecondFactor ||
			a.Impersonation != want.Impersonation {
			t.Errorf("%s: SessionAuth = %+v, want %+v", tc.name, a, want)
		}
		full, err := s.Session(tc.sess.ID)
		if err != nil || full.ImpersonatorName != tc.sess.ImpersonatorName || len(full.Methods) != len(tc.sess.Methods) ||
			!full.LastSeen.Equal(tc.seen) {
			t.Errorf("%s: Session = %+v, %v", tc.name, full, err)
		}
	}
	if n := s.index.len(); n != 4 {
		t.Errorf("%d sessions indexed, want the 4 live ones", n)
	}
}

// TestSessionIndexBuildRace rebuilds the index over tens of thousands of
// sessions while sessions are deleted, created and looked up: once built,
// every deleted session is refused and every other one is served.
func TestSessionIndexBuildRace(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 50,000 sessions")
	}
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now, FlushInterval: time.Millisecond})
	waitIndexed(t, s)
	const n, users = 50_000, 50
	end := clk.Now().Add(time.Hour)
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	idOf := func(i int) SessionID { return SessionID{byte(i >> 16), byte(i >> 8), byte(i), 0xb} }
	userOf := func(i int) string { return fmt.Sprintf("u%d", i%users) }
	for i := range n {
		if err := b.AddSession(&Session{ID: idOf(i), UserID: userOf(i), ExpiresAt: end}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil { // starts a rebuild
		t.Fatal(err)
	}
	if s.index.complete.Load() {
		t.Log("the rebuild finished before the race started: the test proves less")
	}
	var mu sync.Mutex
	deleted := map[SessionID]bool{}
	var created []SessionID
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for j := range 300 {
				i := rng.IntN(n)
				switch j % 3 {
				case 0:
					if err := s.DeleteSession(idOf(i)); err != nil {
						t.Error(err)
					}
					mu.Lock()
					deleted[idOf(i)] = true
					mu.Unlock()
				case 1:
					id := SessionID{0xc, byte(w), byte(j >> 8), byte(j)}
					if err := s.CreateSession(&Session{ID: id, UserID: "new", ExpiresAt: end}); err != nil {
						t.Error(err)
					}
					mu.Lock()
					created = append(created, id)
					mu.Unlock()
				default:
					if _, err := s.SessionAuth(idOf(i)); err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				}
			}
		})
	}
	// One user's sessions all go at once, too.
	if _, err := s.DeleteUserSessions(userOf(7)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	waitIndexed(t, s)
	live := 0
	for i := range n {
		id := idOf(i)
		gone := deleted[id] || userOf(i) == userOf(7)
		_, err := s.SessionAuth(id)
		switch {
		case gone && !errors.Is(err, ErrNotFound):
			t.Fatalf("session %d was deleted but SessionAuth = %v", i, err)
		case !gone && err != nil:
			t.Fatalf("session %d is live but SessionAuth = %v", i, err)
		}
		if !gone {
			live++
		}
	}
	for _, id := range created {
		if _, err := s.SessionAuth(id); err != nil {
			t.Fatalf("created session %v: %v", id, err)
		}
	}
	if got, want := s.index.len(), live+len(created); got != want {
		t.Errorf("%d sessions indexed, want %d", got, want)
	}
}

// BenchmarkSessionAuthSpread looks up sessions spread over 100,000, the
// request path's case when every request carries a different session.
func BenchmarkSessionAuthSpread(b *testing.B) {
	s := openTest(b, "", Options{})
	const n = 100_000
	end := time.Now().Add(time.Hour)
	batch, err := s.NewBatch()
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]SessionID, n)
	for i := range ids {
		ids[i] = SessionID{byte(i >> 16), byte(i >> 8), byte(i), 0xd}
		if err := batch.AddSession(&Session{ID: ids[i], UserID: fmt.Sprintf("u%d", i%1000), ExpiresAt: end, IdleTimeout: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(); err != nil {
		b.Fatal(err)
	}
	waitIndexed(b, s)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(n)
		now := time.Now()
		for pb.Next() {
			i = (i + 7919) % n
			if _, err := s.SessionAuth(ids[i]); err != nil {
				b.Fatal(err)
			}
			s.TouchSession(ids[i], now)
		}
	})
}

// TestSessionIndexTableModel checks the hash table against a Go map through
// random insertions and removals, with ids built to collide (many share the
// bytes the hash reads), across several growths.
func TestSessionIndexTableModel(t *testing.T) {
	ix := newSessionIndex()
	t.Cleanup(ix.release)
	rng := rand.New(rand.NewPCG(1, 2))
	end := time.Unix(2_000_000_000, 0)
	// last is the id prefix the hash sends to the table's last cell at
	// every size: the multiplier's inverse times 2^64-1.
	const mul = 0x9e3779b97f4a7c15
	inv := uint64(mul)
	for range 5 {
		inv *= 2 - mul*inv
	}
	var last [8]byte
	binary.LittleEndian.PutUint64(last[:], ^uint64(0)*inv)
	pool := make([]SessionID, 6000)
	for i := range pool {
		switch i % 5 {
		case 0: // a fifth share their first 8 bytes: one long probe run
			pool[i] = SessionID{0: 0xee, 8: byte(i), 9: byte(i >> 8), 10: 1}
		case 1: // and a fifth start at the last cell: a run that wraps
			copy(pool[i][:], last[:])
			pool[i][8], pool[i][9], pool[i][10] = byte(i), byte(i>>8), 3
		default:
			pool[i] = SessionID{0: byte(i), 1: byte(i >> 8), 31: 2}
		}
	}
	model := map[SessionID]string{}
	check := func(step int) {
		t.Helper()
		if ix.len() != len(model) {
			t.Fatalf("step %d: %d indexed, model %d", step, ix.len(), len(model))
		}
		for _, id := range pool {
			a, ok := ix.get(id)
			user, want := model[id]
			if ok != want || (ok && (a.UserID != user || a.ID != id)) {
				t.Fatalf("step %d: get(%x) = %+v, %v; model %q, %v", step, id[:11], a, ok, user, want)
			}
		}
	}
	for step := range 40_000 {
		id := pool[rng.IntN(len(pool))]
		if rng.IntN(3) > 0 {
			user := fmt.Sprintf("u%d", step%97)
			ix.add(&Session{ID: id, UserID: user, ExpiresAt: end})
			model[id] = user
		} else {
			ix.remove(id)
			delete(model, id)
		}
		if step%4000 == 0 {
			check(step)
		}
	}
	check(-1)
	if len(ix.table) <= minTable {
		t.Errorf("table never grew (%d cells for %d sessions)", len(ix.table), len(model))
	}
	// Everything out again: nothing may be left behind.
	for id := range model {
		ix.remove(id)
	}
	for i, c := range ix.table {
		if c != 0 {
			t.Fatalf("cell %d still holds slot %d after every removal", i, cellSlot(c))
		}
	}
}

// TestSessionIndexSweep walks more than one chunk of slots: every due
// activity comes out once, every expired session goes, the rest stays.
func TestSessionIndexSweep(t *testing.T) {
	ix := newSessionIndex()
	t.Cleanup(ix.release)
	t0 := time.Unix(2_000_000_000, 0)
	const n = 3*slotChunk + 17
	for i := range n {
		end := t0.Add(time.Hour)
		if i%2 == 1 {
			end = t0.Add(time.Minute) // these end before the sweep
		}
		ix.add(&Session{ID: SessionID{byte(i), byte(i >> 8), 7}, UserID: "u", ExpiresAt: end, LastSeen: t0})
	}
	for i := 0; i < n; i += 2 {
		ix.touch(SessionID{byte(i), byte(i >> 8), 7}, t0.Add(maxSeenGranularity).UnixNano())
	}
	now := t0.Add(maxSeenGranularity).UnixNano()
	ws := ix.sweep(false, now)
	if want := (n + 1) / 2; len(ws) != want || ix.len() != want {
		t.Fatalf("sweep: %d to write, %d left; want %d and %d", len(ws), ix.len(), want, want)
	}
	ix.written(ws, true)
	if again := ix.sweep(true, now); len(again) != 0 {
		t.Errorf("a second sweep wrote %d again", len(again))
	}
	if act := ix.active(now, now, 1<<30); len(act) != (n+1)/2 {
		t.Errorf("active = %d, want %d", len(act), (n+1)/2)
	}
	if act := ix.active(0, now, 10); len(act) != 10 {
		t.Errorf("active with a limit = %d, want 10", len(act))
	}
}

// TestSessionIndexCloseUnderLoad closes the store while lookups, touches and
// sweeps run: the index's memory is unmapped at Close, and nothing may touch
// it afterwards (a fault would kill the test binary).
func TestSessionIndexCloseUnderLoad(t *testing.T) {
	s, err := Open(testStorage(t, t.TempDir()), Options{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(time.Hour)
	ids := make([]SessionID, 2*slotChunk)
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		ids[i] = SessionID{byte(i), byte(i >> 8), 9}
		if err := b.AddSession(&Session{ID: ids[i], UserID: "u", ExpiresAt: end}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, s)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := ids[i%len(ids)]
				if _, err := s.SessionAuth(id); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNotFound) {
					t.Error(err)
					return
				}
				s.TouchSession(id, time.Now())
				if _, err := s.ActiveSessions(time.Now(), time.Time{}); err != nil && !errors.Is(err, ErrClosed) {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // lookups after Close
	close(stop)
	wg.Wait()
	if _, err := s.SessionAuth(ids[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("SessionAuth after Close = %v, want ErrClosed", err)
	}
}
