package store

import (
	"errors"
	"slices"
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

func TestListTokens(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	if list, err := s.ListTokens("invite"); err != nil || len(list) != 0 {
		t.Errorf("ListTokens of an empty store = %v, %v", list, err)
	}
	put := func(kind string, b byte, user string, life time.Duration) {
		t.Helper()
		if err := s.PutToken(&Token{Kind: kind, Hash: [32]byte{b}, UserID: user, ExpiresAt: clk.Now().Add(life)}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	put("invite", 1, "a", time.Hour)
	put("invite", 2, "b", time.Hour)
	put("invite", 3, "a", 5*time.Second) // expires below
	put("reset", 4, "a", time.Hour)
	put("inv", 5, "a", time.Hour) // a kind that is a prefix of another
	clk.Advance(10 * time.Second)
	list, err := s.ListTokens("invite")
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][32]byte
	for _, tok := range list {
		hashes = append(hashes, tok.Hash)
		if tok.Kind != "invite" {
			t.Errorf("token of kind %q listed", tok.Kind)
		}
	}
	if want := [][32]byte{{2}, {1}}; !slices.Equal(hashes, want) {
		t.Errorf("ListTokens hashes = %v, want %v (newest first, live only)", hashes, want)
	}
	if len(list) == 2 && (list[0].UserID != "b" || list[1].UserID != "a") {
		t.Errorf("ListTokens users = %q, %q", list[0].UserID, list[1].UserID)
	}
	if list, _ := s.ListTokens("inv"); len(list) != 1 || list[0].Hash != [32]byte{5} {
		t.Errorf("ListTokens(inv) = %+v", list)
	}
}

func TestDeleteToken(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for _, kind := range []string{"invite", "reset"} {
		if err := s.PutToken(&Token{Kind: kind, Hash: [32]byte{1}, ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		kind string
		hash [32]byte
		want error
	}{
		{"invite", [32]byte{2}, ErrNotFound},
		{"setup", [32]byte{1}, ErrNotFound},
		{"invite", [32]byte{1}, nil},
		{"invite", [32]byte{1}, ErrNotFound},
	} {
		if err := s.DeleteToken(tc.kind, tc.hash); !errors.Is(err, tc.want) {
			t.Errorf("DeleteToken(%s, %x) = %v, want %v", tc.kind, tc.hash[:1], err, tc.want)
		}
	}
	if _, err := s.Token("reset", [32]byte{1}); err != nil {
		t.Errorf("the same hash of another kind was deleted: %v", err)
	}
}

func TestDeleteUserTokens(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	for i, tok := range []Token{
		{Kind: "reset", UserID: "u1"},
		{Kind: "reset", UserID: "u1"},
		{Kind: "reset", UserID: "u10"},
		{Kind: "reset"},
		{Kind: "invite", UserID: "u1"},
	} {
		tok.Hash = [32]byte{byte(i)}
		tok.ExpiresAt = clk.Now().Add(time.Hour)
		if err := s.PutToken(&tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteUserTokens("reset", ""); err == nil {
		t.Error("DeleteUserTokens with no user succeeded")
	}
	for _, tc := range []struct {
		kind, user string
		want       int
	}{
		{"reset", "U1", 0}, // ids are exact
		{"reset", "u1", 2},
		{"reset", "u1", 0},
		{"reset", "nobody", 0},
	} {
		if n, err := s.DeleteUserTokens(tc.kind, tc.user); err != nil || n != tc.want {
			t.Errorf("DeleteUserTokens(%s, %s) = %d, %v; want %d", tc.kind, tc.user, n, err, tc.want)
		}
	}
	var left []string
	for _, kind := range []string{"reset", "invite"} {
		list, err := s.ListTokens(kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range list {
			left = append(left, kind+":"+tok.UserID)
		}
	}
	slices.Sort(left)
	if want := []string{"invite:u1", "reset:", "reset:u10"}; !slices.Equal(left, want) {
		t.Errorf("tokens left = %q, want %q", left, want)
	}
}

// TestTokenCreatedBy: the creator is kept, and a record written before the
// field existed still reads (with no creator).
func TestTokenCreatedBy(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	exp := clk.Now().Add(time.Hour)
	if err := s.PutToken(&Token{Kind: "reset", Hash: [32]byte{1}, UserID: "u1", CreatedBy: "admin1", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	old := []byte(`{"kind":"reset","user_id":"u2","data":{"by":"olga"},"created_at":"` + clk.Now().Format(time.RFC3339Nano) +
		`","expires_at":"` + exp.Format(time.RFC3339Nano) + `"}`)
	err := s.db.Update(func(txn kvTxn) error {
		return txn.Set(tokenKey("reset", [32]byte{2}), append([]byte{versionJSON}, old...))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hash     byte
		user, by string
		dataBy   string
	}{{1, "u1", "admin1", ""}, {2, "u2", "", "olga"}} {
		got, err := s.Token("reset", [32]byte{tc.hash})
		if err != nil {
			t.Fatal(err)
		}
		if got.UserID != tc.user || got.CreatedBy != tc.by || got.Data["by"] != tc.dataBy {
			t.Errorf("token %d = %+v, want user %s created by %q", tc.hash, got, tc.user, tc.by)
		}
	}
}
