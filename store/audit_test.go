package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAppendAudit(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	e := &Event{Action: "login", Actor: "alice", Outcome: "success"}
	if err := s.AppendAudit(e); err != nil {
		t.Fatal(err)
	}
	if e.ID == "" || !e.Time.Equal(clk.Now()) {
		t.Errorf("AppendAudit filled ID %q, Time %v", e.ID, e.Time)
	}
	fixed := clk.Now().Add(-time.Hour)
	e2 := &Event{Action: "logout", Time: fixed}
	if err := s.AppendAudit(e2); err != nil {
		t.Fatal(err)
	}
	if !e2.Time.Equal(fixed) {
		t.Error("AppendAudit replaced a given Time")
	}
	if err := s.AppendAudit(&Event{}); err == nil {
		t.Error("AppendAudit without an action succeeded")
	}
	evs, next, err := s.ListAudit(AuditFilter{}, "", 0)
	if err != nil || len(evs) != 2 || next != "" {
		t.Fatalf("ListAudit = %d, %q, %v", len(evs), next, err)
	}
	if evs[0].ID != e.ID || evs[1].ID != e2.ID {
		t.Error("ListAudit not newest first")
	}
	if _, _, err := s.ListAudit(AuditFilter{}, "zz", 0); err == nil {
		t.Error("ListAudit accepted a bad cursor")
	}
}

// TestListAuditFilters pages through a day of events with each filter.
func TestListAuditFilters(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	base := clk.Now()
	actors := []string{"alice", "Bob", ""}
	actions := []string{"login", "user.create", "user.delete", "logout"}
	var all []*Event
	for i := range 48 { // one event every 30 minutes
		e := &Event{
			Time:    base.Add(time.Duration(i) * 30 * time.Minute),
			Actor:   actors[i%len(actors)],
			Action:  actions[i%len(actions)],
			Outcome: "success",
		}
		if err := s.AppendAudit(e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	// Two events at the same instant get distinct ids.
	same := &Event{Time: base.Add(time.Hour), Actor: "carol", Action: "login"}
	if err := s.AppendAudit(same); err != nil {
		t.Fatal(err)
	}
	all = append(all, same)

	for _, tc := range []struct {
		name string
		f    AuditFilter
	}{
		{"all", AuditFilter{}},
		{"actor", AuditFilter{Actor: "ALICE"}},
		{"anonymous is not a filter", AuditFilter{Actor: ""}},
		{"exact action", AuditFilter{Action: "login"}},
		{"action prefix", AuditFilter{Action: "user."}},
		{"action without dot is exact", AuditFilter{Action: "user"}},
		{"since", AuditFilter{Since: base.Add(20 * time.Hour)}},
		{"until", AuditFilter{Until: base.Add(3 * time.Hour)}},
		{"range", AuditFilter{Since: base.Add(2 * time.Hour), Until: base.Add(10 * time.Hour)}},
		{"range and actor and prefix", AuditFilter{Actor: "bob", Action: "user.", Since: base.Add(time.Hour), Until: base.Add(20 * time.Hour)}},
		{"empty range", AuditFilter{Since: base.Add(100 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Expected: matching events, newest first.
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				e := all[i]
				if e.Time.Before(tc.f.Since) || (!tc.f.Until.IsZero() && !e.Time.Before(tc.f.Until)) || !tc.f.match(e) {
					continue
				}
				want = append(want, e.ID)
			}
			for _, limit := range []int{1, 4, 7, 100} {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					evs, next, err := s.ListAudit(tc.f, cursor, limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(evs) > limit || (next != "" && len(evs) != limit) {
						t.Fatalf("limit %d: page of %d, next %q", limit, len(evs), next)
					}
					for _, e := range evs {
						got = append(got, e.ID)
					}
					if next == "" {
						break
					}
					cursor = next
					if pages > 100 {
						t.Fatal("paging does not end")
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(sortedNewestFirst(want)) {
					t.Errorf("limit %d: got %d events %v, want %d %v", limit, len(got), got, len(want), want)
				}
			}
		})
	}
}

// sortedNewestFirst orders ids like the store: by descending ID (time,
// then random suffix; hex keeps the byte order).
func sortedNewestFirst(ids []string) []string {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) })
	return out
}

func TestListAuditUserFilter(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	base := clk.Now()
	for i, e := range []Event{
		{Actor: "root", Action: "user.create", Resource: "user:Alice"}, // 0
		{Actor: "ALICE", Action: "login", Resource: "user:alice"},      // 1
		{Actor: "root", Action: "user.update", Resource: "user:bob"},   // 2
		{Actor: "alice", Action: "user.update", Resource: "user:bob"},  // 3
		{Actor: "bob", Action: "login", Resource: "user:alicexyz"},     // 4
		{Actor: "alicex", Action: "login", Resource: "group:alice"},    // 5
		{Action: "login", Resource: "user:alice", Outcome: "failure"},  // 6
	} {
		e.Time = base.Add(time.Duration(i) * time.Hour)
		if e.Outcome == "" {
			e.Outcome = "success"
		}
		if err := s.AppendAudit(&e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		f    AuditFilter
		want []string // actor/action of the events, newest first
	}{
		{AuditFilter{User: "alice"}, []string{"/login", "alice/user.update", "ALICE/login", "root/user.create"}},
		{AuditFilter{User: "Alice"}, []string{"/login", "alice/user.update", "ALICE/login", "root/user.create"}},
		{AuditFilter{User: "bob"}, []string{"bob/login", "alice/user.update", "root/user.update"}},
		{AuditFilter{User: "alice", Action: "login"}, []string{"/login", "ALICE/login"}},
		{AuditFilter{User: "alice", Actor: "root"}, []string{"root/user.create"}},
		{AuditFilter{User: "alice", Since: base.Add(time.Hour), Until: base.Add(6 * time.Hour)}, []string{"alice/user.update", "ALICE/login"}},
		{AuditFilter{User: "nobody"}, nil},
	}
	for _, tc := range tests {
		evs, next, err := s.ListAudit(tc.f, "", 0)
		var got []string
		for _, e := range evs {
			got = append(got, e.Actor+"/"+e.Action)
		}
		if err != nil || next != "" || !slices.Equal(got, tc.want) {
			t.Errorf("ListAudit(%+v) = %q, %q, %v; want %q", tc.f, got, next, err, tc.want)
		}
	}
	// Paging with the user filter.
	page, next, err := s.ListAudit(AuditFilter{User: "alice"}, "", 3)
	if err != nil || len(page) != 3 || next == "" {
		t.Fatalf("page 1 = %d, %q, %v", len(page), next, err)
	}
	page, next, err = s.ListAudit(AuditFilter{User: "alice"}, next, 3)
	if err != nil || len(page) != 1 || next != "" || page[0].Action != "user.create" {
		t.Errorf("page 2 = %+v, %q, %v", page, next, err)
	}
}

func TestPruneAudit(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	base := clk.Now()
	if n, err := s.PruneAudit(base); err != nil || n != 0 {
		t.Errorf("PruneAudit of an empty log = %d, %v", n, err)
	}
	// More events than one deletion batch, written directly for speed.
	const total = 2500
	wb := s.db.NewWriteBatch()
	for i := range total {
		e := &Event{Time: base.Add(time.Duration(i) * time.Second), Action: "login", Outcome: "success"}
		suffix := binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixNano()))
		suffix = binary.BigEndian.AppendUint64(suffix, uint64(i))
		e.ID = hex.EncodeToString(suffix)
		b, err := encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := wb.Set(auditKey(suffix), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		before time.Time
		want   int
	}{
		{time.Time{}, 0},
		{base, 0},
		{base.Add(2100 * time.Second), 2100}, // the event at before stays
		{base.Add(2100 * time.Second), 0},
		{base.Add(2100*time.Second + 1), 1},
	} {
		if n, err := s.PruneAudit(tc.before); err != nil || n != tc.want {
			t.Errorf("PruneAudit(%v) = %d, %v; want %d", tc.before.Sub(base), n, err, tc.want)
		}
	}
	evs, _, err := s.ListAudit(AuditFilter{}, "", total)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != total-2101 || !evs[len(evs)-1].Time.Equal(base.Add(2101*time.Second)) {
		t.Errorf("after pruning: %d events, oldest %v", len(evs), evs[len(evs)-1].Time.Sub(base))
	}
	if n, err := s.PruneAudit(base.Add(time.Hour * 24)); err != nil || n != total-2101 {
		t.Errorf("PruneAudit(all) = %d, %v", n, err)
	}
}

// TestListAuditReadBudget: a filter that rarely matches answers partial
// pages with a cursor once the read budget is spent, and paging through
// finds every match exactly once.
func TestListAuditReadBudget(t *testing.T) {
	old := auditReadBudget
	auditReadBudget = 100
	t.Cleanup(func() { auditReadBudget = old })
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	b, err := s.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	base := clk.Now()
	var want []string
	for i := range 1000 {
		e := &Event{Time: base.Add(time.Duration(i) * time.Second), Action: "login", Outcome: "success"}
		if i%170 == 0 {
			e.Action = "rare"
		}
		if err := b.AddAudit(e); err != nil {
			t.Fatal(err)
		}
		if e.Action == "rare" {
			want = append([]string{e.ID}, want...)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	var got []string
	calls, partial := 0, 0
	for cursor := ""; ; calls++ {
		page, next, err := s.ListAudit(AuditFilter{Action: "rare"}, cursor, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.ID)
		}
		if next != "" && len(page) < 5 {
			partial++
		}
		if next == "" {
			break
		}
		cursor = next
		if calls > 100 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged matches %q; want %q", got, want)
	}
	if partial == 0 {
		t.Error("the read budget never cut a page short")
	}
}
