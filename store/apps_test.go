package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestAppAccess(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if _, err := s.AppAccess("grafana"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppAccess(never set) = %v, want ErrNotFound", err)
	}
	if err := s.PutAppAccess(&AppAccess{App: ""}); err == nil {
		t.Error("PutAppAccess with no app succeeded")
	}
	a := &AppAccess{App: "grafana", AllowGroups: []string{"ops"}, AllowUsers: []string{"alice"}}
	if err := s.PutAppAccess(a); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	a2 := &AppAccess{App: "grafana", AllowGroups: []string{"dev"}}
	if err := s.PutAppAccess(a2); err != nil {
		t.Fatal(err)
	}
	got, err := s.AppAccess("grafana")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.AllowGroups, []string{"dev"}) || len(got.AllowUsers) != 0 || !got.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("AppAccess = %+v, want the replacement", got)
	}
}

func TestListAppAccess(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	if list, err := s.ListAppAccess(); err != nil || len(list) != 0 {
		t.Errorf("ListAppAccess of an empty store = %v, %v", list, err)
	}
	for _, a := range []*AppAccess{
		{App: "wiki", Operators: []string{"bob", "carol"}},
		{App: "Grafana", AllowGroups: []string{"ops"}},
		{App: "git", AllowUsers: []string{"alice"}},
	} {
		if err := s.PutAppAccess(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAppAccess(&AppAccess{App: "wiki", Operators: []string{"dave"}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListAppAccess()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.App)
	}
	if want := []string{"Grafana", "git", "wiki"}; !slices.Equal(names, want) {
		t.Errorf("ListAppAccess = %q, want %q", names, want)
	}
	if got := list[2].Operators; !slices.Equal(got, []string{"dave"}) {
		t.Errorf("wiki operators = %q, want the replacement", got)
	}
	if !slices.Equal(list[0].AllowGroups, []string{"ops"}) || !slices.Equal(list[1].AllowUsers, []string{"alice"}) {
		t.Errorf("ListAppAccess lost fields: %+v %+v", list[0], list[1])
	}
	// Operators survive a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	if a, err := s.AppAccess("wiki"); err != nil || !slices.Equal(a.Operators, []string{"dave"}) {
		t.Errorf("AppAccess after reopen = %+v, %v", a, err)
	}
}
