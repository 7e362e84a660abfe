package store

import (
	"errors"
	"slices"
	"testing"
)

func TestGroups(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	g := &Group{Name: "Ops", Description: "on call"}
	if err := s.CreateGroup(g); err != nil {
		t.Fatal(err)
	}
	if !g.CreatedAt.Equal(clk.Now()) {
		t.Errorf("CreatedAt = %v", g.CreatedAt)
	}
	if err := s.CreateGroup(&Group{Name: "ops"}); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateGroup(duplicate, other case) = %v, want ErrConflict", err)
	}
	for _, bad := range []string{"", "  ", "a\x00b"} {
		if err := s.CreateGroup(&Group{Name: bad}); err == nil {
			t.Errorf("CreateGroup(%q) succeeded", bad)
		}
	}
	got, err := s.Group("OPS")
	if err != nil || got.Name != "Ops" || got.Description != "on call" {
		t.Errorf("Group = %+v, %v", got, err)
	}
	if _, err := s.Group("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Group(missing) = %v", err)
	}

	if err := s.EnsureGroups([]string{"dev", "OPS", "admins", "dev", ""}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroups([]string{"x\x00"}); err == nil {
		t.Error("EnsureGroups accepted an invalid name")
	}
	list, err := s.ListGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range list {
		names = append(names, g.Name)
	}
	if want := []string{"admins", "dev", "Ops"}; !slices.Equal(names, want) {
		t.Errorf("ListGroups = %q, want %q", names, want)
	}
	if list[2].Description != "on call" {
		t.Error("EnsureGroups overwrote an existing group")
	}
}

func TestListGroupsEmpty(t *testing.T) {
	s := openTest(t, "", Options{})
	if list, err := s.ListGroups(); err != nil || len(list) != 0 {
		t.Errorf("ListGroups = %v, %v", list, err)
	}
}
