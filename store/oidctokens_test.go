package store

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

func refreshHash(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newRefresh(clk *clock, family, session string) *OIDCRefresh {
	return &OIDCRefresh{Family: family, UserID: "u1", ClientID: "grafana", Scopes: []string{"openid"}, SessionID: session,
		IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
}

func TestOIDCRefreshRotation(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if err := s.PutOIDCRefresh(refreshHash(1), newRefresh(clk, "f1", "")); err != nil {
		t.Fatal(err)
	}
	r, err := s.OIDCRefresh(refreshHash(1))
	if err != nil || r.Family != "f1" || r.ClientID != "grafana" || r.Rotated {
		t.Fatalf("OIDCRefresh = %+v, %v", r, err)
	}
	if _, err := s.OIDCRefresh(refreshHash(9)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown token: %v, want ErrNotFound", err)
	}
	// Rotation: the old token is spent, the new one lives.
	if err := s.RotateOIDCRefresh(refreshHash(1), refreshHash(2), newRefresh(clk, "f1", "")); err != nil {
		t.Fatal(err)
	}
	if r, err := s.OIDCRefresh(refreshHash(2)); err != nil || r.Family != "f1" {
		t.Fatalf("rotated token = %+v, %v", r, err)
	}
	// A rotation into another family is refused.
	if err := s.RotateOIDCRefresh(refreshHash(2), refreshHash(3), newRefresh(clk, "f2", "")); err == nil {
		t.Error("rotation into another family accepted")
	}
	// Expiry.
	clk.Advance(2 * time.Hour)
	if _, err := s.OIDCRefresh(refreshHash(2)); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired token: %v, want ErrNotFound", err)
	}
}

func TestOIDCRefreshReuseRevokesFamily(t *testing.T) {
	for _, via := range []string{"lookup", "rotation"} {
		t.Run(via, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, "", Options{Now: clk.Now})
			if err := s.PutOIDCRefresh(refreshHash(1), newRefresh(clk, "f1", "")); err != nil {
				t.Fatal(err)
			}
			if err := s.RotateOIDCRefresh(refreshHash(1), refreshHash(2), newRefresh(clk, "f1", "")); err != nil {
				t.Fatal(err)
			}
			// The spent token comes back.
			var err error
			if via == "lookup" {
				_, err = s.OIDCRefresh(refreshHash(1))
			} else {
				err = s.RotateOIDCRefresh(refreshHash(1), refreshHash(3), newRefresh(clk, "f1", ""))
			}
			if !errors.Is(err, ErrRefreshReused) {
				t.Fatalf("reuse: %v, want ErrRefreshReused", err)
			}
			// The whole family is dead, the live token included, and no
			// new token joins it.
			if _, err := s.OIDCRefresh(refreshHash(2)); !errors.Is(err, ErrNotFound) {
				t.Errorf("the family's live token after reuse: %v, want ErrNotFound", err)
			}
			if _, err := s.OIDCRefresh(refreshHash(3)); !errors.Is(err, ErrNotFound) {
				t.Errorf("token made by the reuse: %v, want ErrNotFound", err)
			}
			if err := s.RotateOIDCRefresh(refreshHash(2), refreshHash(4), newRefresh(clk, "f1", "")); err == nil {
				t.Error("a revoked family rotated")
			}
			if err := s.PutOIDCRefresh(refreshHash(5), newRefresh(clk, "f1", "")); !errors.Is(err, ErrNotFound) {
				t.Errorf("a new token in a revoked family: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestOIDCRefreshConcurrentRotation(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if err := s.PutOIDCRefresh(refreshHash(1), newRefresh(clk, "f1", "")); err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RotateOIDCRefresh(refreshHash(1), refreshHash(byte(10+i)), newRefresh(clk, "f1", ""))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrRefreshReused):
			t.Errorf("rotation %d: %v, want nil or ErrRefreshReused", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent rotations won, want 1", won)
	}
	// The losers found the token spent: the family, winner's token
	// included, is revoked.
	for i := range n {
		if _, err := s.OIDCRefresh(refreshHash(byte(10 + i))); !errors.Is(err, ErrNotFound) {
			t.Errorf("token %d after the race: %v, want ErrNotFound", i, err)
		}
	}
}

func TestOIDCRefreshSessionRevoke(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	a, b := SessionID{1}, SessionID{2}
	for i, tc := range []struct {
		family string
		sess   SessionID
	}{{"fa1", a}, {"fa2", a}, {"fb", b}} {
		if err := s.PutOIDCRefresh(refreshHash(byte(i+1)), newRefresh(clk, tc.family, tc.sess.String())); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutOIDCRefresh(refreshHash(4), newRefresh(clk, "fnone", "")); err != nil {
		t.Fatal(err)
	}
	// A rotated token stays indexed under its session.
	if err := s.RotateOIDCRefresh(refreshHash(1), refreshHash(5), newRefresh(clk, "fa1", a.String())); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hash byte
		live bool
	}{{5, false}, {2, false}, {3, true}, {4, true}} {
		_, err := s.OIDCRefresh(refreshHash(tc.hash))
		if tc.live != (err == nil) {
			t.Errorf("token %d after session a ended: %v (want live %v)", tc.hash, err, tc.live)
		}
	}
	// Ending a user's sessions does the same.
	mustCreateSession(t, s, &Session{ID: b, UserID: "u1", ExpiresAt: clk.Now().Add(time.Hour)})
	if _, err := s.DeleteUserSessions("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OIDCRefresh(refreshHash(3)); !errors.Is(err, ErrNotFound) {
		t.Errorf("token of session b after DeleteUserSessions: %v", err)
	}
}

func TestOIDCSigningKeys(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	k1 := &OIDCSigningKey{ID: "k1", Algorithm: "RS256", Sealed: []byte("sealed-1"), CreatedAt: clk.Now()}
	if err := s.OIDCKeys().Put(k1); err != nil {
		t.Fatal(err)
	}
	if err := s.OIDCKeys().Put(&OIDCSigningKey{ID: "k1", Algorithm: "ES256"}); !errors.Is(err, ErrConflict) {
		t.Errorf("a taken key id: %v, want ErrConflict", err)
	}
	clk.Advance(time.Hour)
	if err := s.OIDCKeys().Put(&OIDCSigningKey{ID: "k2", Algorithm: "ES256", Sealed: []byte("sealed-2"), CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.OIDCKeys().Put(&OIDCSigningKey{ID: "k3", Algorithm: "ES256", Sealed: []byte("sealed-3"), CreatedAt: clk.Now()}, "k1"); err != nil {
		t.Fatal(err)
	}
	keys, err := s.OIDCKeys().List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range keys {
		got[k.ID] = string(k.Sealed)
	}
	if len(got) != 2 || got["k2"] != "sealed-2" || got["k3"] != "sealed-3" {
		t.Errorf("keys after dropping k1: %v", got)
	}
}
