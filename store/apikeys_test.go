package store

import (
	"errors"
	"testing"
	"time"
)

func TestAPIKeys(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s, err := Open(testStorage(t, dir), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := &User{Username: "alice", Role: "user"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIKey(&APIKey{UserID: "ghost", Hash: [32]byte{9}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("key for a missing user: %v", err)
	}
	k := &APIKey{UserID: u.ID, Hash: [32]byte{1}, Label: "ci", Scope: "read-only"}
	if err := s.CreateAPIKey(k); err != nil || k.ID == "" {
		t.Fatalf("CreateAPIKey: %v %+v", err, k)
	}
	if err := s.CreateAPIKey(&APIKey{UserID: u.ID, Hash: [32]byte{1}}); !errors.Is(err, ErrConflict) {
		t.Errorf("same hash twice: %v", err)
	}
	got, err := s.APIKeyByHash([32]byte{1})
	if err != nil || got.ID != k.ID || got.Label != "ci" {
		t.Fatalf("APIKeyByHash = %+v, %v", got, err)
	}
	if _, err := s.APIKeyByHash([32]byte{2}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown hash: %v", err)
	}
	// Use is counted in memory, listed at once and written by Flush.
	s.TouchAPIKey(k.ID, "192.0.2.1", clk.Now())
	s.TouchAPIKey(k.ID, "192.0.2.2", clk.Now().Add(time.Second))
	list, _ := s.APIKeys(u.ID)
	if len(list) != 1 || list[0].Uses != 2 || list[0].LastUsedIP != "192.0.2.2" {
		t.Fatalf("APIKeys = %+v", list)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{Now: clk.Now})
	if k2, err := s.APIKey(k.ID); err != nil || k2.Uses != 2 {
		t.Fatalf("after reopen: %+v, %v", k2, err)
	}
	// Revocation is immediate, for the cache too.
	if err := s.DeleteAPIKey(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKeyByHash([32]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked key still found: %v", err)
	}
	_ = s.CreateAPIKey(&APIKey{UserID: u.ID, Hash: [32]byte{3}})
	_ = s.CreateAPIKey(&APIKey{UserID: u.ID, Hash: [32]byte{4}})
	if n, err := s.DeleteUserAPIKeys(u.ID); err != nil || n != 2 {
		t.Errorf("DeleteUserAPIKeys = %d, %v", n, err)
	}
	if all, _ := s.APIKeys(""); len(all) != 0 {
		t.Errorf("keys left: %+v", all)
	}
}
