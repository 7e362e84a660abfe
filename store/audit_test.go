package store

import (
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
