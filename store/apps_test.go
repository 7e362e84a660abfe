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
