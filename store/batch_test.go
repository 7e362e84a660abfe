package store

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestBatch(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if _, err := s.CountUsers(); err != nil { // directory built before the batch
		t.Fatal(err)
	}
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	ann := &User{Username: "ann", Email: "Ann@X.org", Groups: []string{"ops"}}
	if err := b.AddUser(ann); err != nil {
		t.Fatal(err)
	}
	if err := b.AddGroup(&Group{Name: "Ops"}); err != nil {
		t.Fatal(err)
	}
	sess := &Session{ID: SessionID{7}, UserID: ann.ID, ExpiresAt: clk.Now().Add(time.Hour)}
	if err := b.AddSession(sess); err != nil {
		t.Fatal(err)
	}
	if err := b.AddAudit(&Event{Actor: "ann", Action: "login", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []error{
		b.AddUser(&User{Username: ""}),
		b.AddGroup(&Group{Name: "a\x00b"}),
		b.AddSession(&Session{ID: SessionID{8}, UserID: ann.ID}),
		b.AddAudit(&Event{}),
	} {
		if bad == nil {
			t.Error("Batch accepted an invalid record")
		}
	}
	if _, err := s.UserByUsername("ann"); err == nil {
		t.Error("batch visible before Commit")
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	if u, err := s.UserByEmail("ann@x.org"); err != nil || u.ID != ann.ID {
		t.Errorf("UserByEmail = %v, %v", u, err)
	}
	if got, err := s.Session(sess.ID); err != nil || got.UserID != ann.ID {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if list, err := s.UserSessions(ann.ID); err != nil || len(list) != 1 {
		t.Errorf("UserSessions = %d, %v", len(list), err)
	}
	if g, err := s.Group("ops"); err != nil || g.Name != "Ops" {
		t.Errorf("Group = %+v, %v", g, err)
	}
	if users, _, err := s.SearchUsers(UserFilter{Group: "ops"}, "", 0); err != nil || len(users) != 1 {
		t.Errorf("SearchUsers after a batch = %d users, %v (directory not refreshed?)", len(users), err)
	}
	if evs, _, err := s.ListAudit(AuditFilter{User: "ANN"}, "", 0); err != nil || len(evs) != 1 {
		t.Errorf("ListAudit by user = %d, %v", len(evs), err)
	}
	b, err = s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddUser(&User{Username: "cancelled"}); err != nil {
		t.Fatal(err)
	}
	b.Cancel()
	if _, err := s.UserByUsername("cancelled"); err == nil {
		t.Error("cancelled batch written")
	}
}

// countKeys counts the keys under prefix.
func countKeys(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn kvTxn) error {
		return scan(txn, []byte(prefix), func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAuditUserIndex: the index follows appends and prunes, and a database
// written before the index existed is indexed when opened.
func TestAuditUserIndex(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s, err := Open(testStorage(t, dir), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	base := clk.Now()
	// 3000 events, more than one deletion transaction: actor uN, about uN+1.
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		e := &Event{Time: base.Add(time.Duration(i) * time.Second), Actor: fmt.Sprintf("u%d", i%10),
			Action: "user.update", Resource: fmt.Sprintf("user:U%d", (i+1)%10), Outcome: "success"}
		if i%100 == 0 {
			e.Impersonator = "boss"
		}
		if err := b.AddAudit(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, prefixAuditUser); n != 6000+30 {
		t.Fatalf("%d index entries; want 6030", n)
	}
	check := func(when string) {
		t.Helper()
		f := AuditFilter{User: "U3", Since: base.Add(1000 * time.Second), Until: base.Add(2000 * time.Second)}
		var got []string
		for cursor := ""; ; {
			page, next, err := s.ListAudit(f, cursor, 40)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			for _, e := range page {
				got = append(got, e.Time.Sub(base).String())
			}
			if next == "" {
				break
			}
			cursor = next
		}
		var want []string
		for i := 1999; i >= 1000; i-- {
			if i%10 == 3 || (i+1)%10 == 3 {
				want = append(want, (time.Duration(i) * time.Second).String())
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: user U3 in [1000s, 2000s): %d events %v…; want %d", when, len(got), got[:min(3, len(got))], len(want))
		}
		if evs, _, err := s.ListAudit(AuditFilter{User: "boss"}, "", 100); err != nil || len(evs) != 30 {
			t.Fatalf("%s: impersonator boss: %d events, %v", when, len(evs), err)
		}
		if evs, _, err := s.ListAudit(AuditFilter{Actor: "u3"}, "", 1000); err != nil || len(evs) != 300 {
			t.Fatalf("%s: actor u3: %d events, %v", when, len(evs), err)
		}
	}
	check("indexed")

	// An older database: no index and no marker. Opening it indexes it.
	var drop [][]byte
	err = s.db.View(func(txn kvTxn) error {
		return scanKeys(txn, []byte(prefixAuditUser), func(k []byte) error {
			drop = append(drop, bytes.Clone(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.deleteKeys(append(drop, keyAuditUserIndex)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{Now: clk.Now})
	check("migrated")

	// Pruning removes the index entries with the events.
	if n, err := s.PruneAudit(base.Add(1500 * time.Second)); err != nil || n != 1500 {
		t.Fatalf("PruneAudit = %d, %v", n, err)
	}
	if n := countKeys(t, s, prefixAuditUser); n != 3000+15 {
		t.Errorf("%d index entries after prune; want 3015", n)
	}
	if evs, _, err := s.ListAudit(AuditFilter{User: "u3"}, "", 1000); err != nil || len(evs) != 300 {
		t.Errorf("after prune: u3 %d events, %v", len(evs), err)
	}
}
