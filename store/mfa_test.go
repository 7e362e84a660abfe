package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMFA(t *testing.T) {
	s := openTest(t, "", Options{})
	u := &User{Username: "alice", Role: "user"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	if m, err := s.MFA(u.ID); err != nil || m.Active() {
		t.Fatalf("fresh MFA = %+v, %v", m, err)
	}
	if _, err := s.UpdateMFA("nobody", func(*MFA) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateMFA of a missing user = %v", err)
	}
	_, err := s.UpdateMFA(u.ID, func(m *MFA) error {
		m.TOTPSecret = []byte("sealed")
		m.BackupCodes = []string{"a", "b"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Using one backup code from many goroutines at once succeeds once.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateMFA(u.ID, func(m *MFA) error {
				for i, c := range m.BackupCodes {
					if c == "a" {
						m.BackupCodes = append(m.BackupCodes[:i:i], m.BackupCodes[i+1:]...)
						return nil
					}
				}
				return errors.New("used")
			})
			if err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("backup code used %d times", wins.Load())
	}
	if m, _ := s.MFA(u.ID); !m.Active() || len(m.BackupCodes) != 1 {
		t.Errorf("MFA = %+v", m)
	}
	// Deleting the user deletes the record.
	if err := s.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.MFA(u.ID); m.Active() {
		t.Error("MFA survived its user")
	}
}
