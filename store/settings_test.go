package store

import (
	"errors"
	"testing"
)

func TestSettings(t *testing.T) {
	s := openTest(t, "", Options{})
	type site struct {
		Title   string `json:"title"`
		Lockout int    `json:"lockout"`
	}
	var v site
	if err := s.Setting("site", &v); !errors.Is(err, ErrNotFound) {
		t.Errorf("Setting(unset) = %v, want ErrNotFound", err)
	}
	if err := s.PutSetting("site", site{"Home", 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting("site", site{"Home 2", 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.Setting("site", &v); err != nil || v != (site{"Home 2", 7}) {
		t.Errorf("Setting = %+v, %v", v, err)
	}
	if err := s.PutSetting("", 1); err == nil {
		t.Error("PutSetting with an empty key succeeded")
	}
	if err := s.PutSetting("bad", func() {}); err == nil {
		t.Error("PutSetting of an unencodable value succeeded")
	}
	var n int
	if err := s.Setting("site", &n); err == nil {
		t.Error("Setting into the wrong type succeeded")
	}
}
