package store

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	tok := &Token{Kind: "invite", Hash: [32]byte{1}, UserID: "u1", Data: map[string]string{"role": "user"}, ExpiresAt: clk.Now().Add(time.Hour)}
	if err := s.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	if !tok.CreatedAt.Equal(clk.Now()) {
		t.Errorf("CreatedAt = %v", tok.CreatedAt)
	}
	if _, err := s.ConsumeToken("reset", tok.Hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConsumeToken(other kind) = %v, want ErrNotFound", err)
	}
	// Token peeks without using it up.
	for range 2 {
		if peek, err := s.Token("invite", tok.Hash); err != nil || peek.UserID != "u1" || peek.Hash != tok.Hash {
			t.Fatalf("Token = %+v, %v", peek, err)
		}
	}
	if _, err := s.Token("invite", [32]byte{9}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Token(unknown) = %v, want ErrNotFound", err)
	}
	got, err := s.ConsumeToken("invite", tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != tok.Hash || got.UserID != "u1" || got.Data["role"] != "user" || got.Kind != "invite" {
		t.Errorf("ConsumeToken = %+v", got)
	}
	if _, err := s.ConsumeToken("invite", tok.Hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("second ConsumeToken = %v, want ErrNotFound", err)
	}

	for name, bad := range map[string]*Token{
		"no kind":   {ExpiresAt: clk.Now().Add(time.Hour)},
		"expired":   {Kind: "x", ExpiresAt: clk.Now()},
		"no expiry": {Kind: "x"},
	} {
		if err := s.PutToken(bad); err == nil {
			t.Errorf("PutToken(%s) succeeded", name)
		}
	}
}

func TestConsumeExpiredToken(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	tok := &Token{Kind: "reset", Hash: [32]byte{2}, ExpiresAt: clk.Now().Add(time.Minute)}
	if err := s.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := s.Token("reset", tok.Hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("Token(expired) = %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeToken("reset", tok.Hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConsumeToken(expired) = %v, want ErrNotFound", err)
	}
}

func TestConsumeTokenSingleUse(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	tok := &Token{Kind: "setup", Hash: [32]byte{3}, ExpiresAt: clk.Now().Add(time.Hour)}
	if err := s.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		wins     int
		notFound int
		others   []error
		wg       sync.WaitGroup
	)
	start := make(chan struct{})
	for range 20 {
		wg.Go(func() {
			<-start
			_, err := s.ConsumeToken("setup", tok.Hash)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrNotFound):
				notFound++
			default:
				others = append(others, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 || notFound != 19 || len(others) > 0 {
		t.Errorf("wins=%d notFound=%d others=%v; want 1, 19, none", wins, notFound, others)
	}
}

func TestDeleteTokens(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i := range 3 {
		for _, kind := range []string{"setup", "setup2"} {
			if err := s.PutToken(&Token{Kind: kind, Hash: [32]byte{byte(i)}, ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteTokens("setup"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTokens("setup"); err != nil {
		t.Fatalf("DeleteTokens with nothing to delete: %v", err)
	}
	if err := s.DeleteTokens(""); err == nil {
		t.Error("DeleteTokens(\"\") succeeded")
	}
	for i := range 3 {
		if _, err := s.ConsumeToken("setup", [32]byte{byte(i)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("setup token %d survived DeleteTokens: %v", i, err)
		}
		if _, err := s.ConsumeToken("setup2", [32]byte{byte(i)}); err != nil {
			t.Errorf("setup2 token %d deleted with kind setup: %v", i, err)
		}
	}
}
