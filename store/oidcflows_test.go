package store

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

func flowHash(b byte) []byte { return refreshHash(b) }

// TestOIDCFlowsRequestToCode: an auth request lives until it expires, is
// completed in place, becomes one code (never two), and an unfinished one
// can be taken away once.
func TestOIDCFlowsRequestToCode(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	f := OIDCFlowsOf(s)
	put := func(id string) {
		t.Helper()
		if err := f.PutRequest(&OIDCAuthRequest{ID: id, ClientID: "grafana", ExpiresAt: clk.Now().Add(10 * time.Minute), Data: json.RawMessage(`{"x":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	put("r1")
	if err := f.PutRequest(&OIDCAuthRequest{ID: "r1", ExpiresAt: clk.Now().Add(time.Minute)}); !errors.Is(err, ErrConflict) {
		t.Errorf("a second request r1: %v, want ErrConflict", err)
	}
	if r, err := f.Request("r1"); err != nil || r.ClientID != "grafana" || r.Done || string(r.Data) != `{"x":1}` {
		t.Fatalf("Request = %+v, %v", r, err)
	}
	// A pending request cannot become a code.
	if err := f.SaveCode("r1", flowHash(1), clk.Now().Add(time.Minute)); !errors.Is(err, ErrNotFound) {
		t.Errorf("code for a pending request: %v", err)
	}
	if err := f.UpdateRequest("r1", func(r *OIDCAuthRequest) error { r.Done, r.Data = true, json.RawMessage(`{"x":2}`); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.TakePending("r1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TakePending of a done request: %v", err)
	}
	if err := f.SaveCode("r1", flowHash(1), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveCode("r1", flowHash(2), clk.Now().Add(time.Minute)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a second code for r1: %v", err)
	}
	if _, err := f.Request("r1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("request after its code: %v", err)
	}
	c, err := f.RedeemCode(flowHash(1))
	if err != nil || c.ClientID != "grafana" || string(c.Data) != `{"x":2}` {
		t.Fatalf("RedeemCode = %+v, %v", c, err)
	}
	// TakePending: once.
	put("r2")
	if r, err := f.TakePending("r2"); err != nil || r.ClientID != "grafana" {
		t.Fatalf("TakePending = %+v, %v", r, err)
	}
	if _, err := f.TakePending("r2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TakePending twice: %v", err)
	}
}

// TestOIDCFlowsExpiry: requests, codes and access tokens are gone once
// their time is over (on the store's clock).
func TestOIDCFlowsExpiry(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	f := OIDCFlowsOf(s)
	for _, id := range []string{"r1", "r2"} {
		if err := f.PutRequest(&OIDCAuthRequest{ID: id, ClientID: "grafana", Done: true, ExpiresAt: clk.Now().Add(10 * time.Minute), Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveCode("r2", flowHash(1), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.PutAccess(flowHash(2), &OIDCAccess{UserID: "u1", ClientID: "grafana", ExpiresAt: clk.Now().Add(5 * time.Minute)}, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := f.RedeemCode(flowHash(1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired code: %v, want ErrNotFound", err)
	}
	if _, err := f.Access(flowHash(2)); err != nil {
		t.Errorf("live access token: %v", err)
	}
	clk.Advance(4 * time.Minute)
	if _, err := f.Access(flowHash(2)); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired access token: %v, want ErrNotFound", err)
	}
	if _, err := f.Request("r1"); err != nil {
		t.Errorf("live request: %v", err)
	}
	clk.Advance(5 * time.Minute)
	for name, err := range map[string]error{
		"Request":       func() error { _, err := f.Request("r1"); return err }(),
		"UpdateRequest": f.UpdateRequest("r1", func(*OIDCAuthRequest) error { return nil }),
		"SaveCode":      f.SaveCode("r1", flowHash(3), clk.Now().Add(time.Minute)),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an expired request: %v, want ErrNotFound", name, err)
		}
	}
}

// TestOIDCFlowsCodeSingleUse: 16 concurrent exchanges of one code, one
// wins; the others find it reused, and the reuse revokes the access token
// and the refresh family issued from it; a token issued after that is
// dead at birth. On PostgreSQL the exchanges alternate between two stores
// on the database (two nodes: no lock in the process serialises them).
func TestOIDCFlowsCodeSingleUse(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	s := openTest(t, dir, Options{Now: clk.Now})
	f := OIDCFlowsOf(s)
	nodes := []OIDCFlows{f}
	if testPG != nil {
		nodes = append(nodes, OIDCFlowsOf(openTest(t, dir, Options{Now: clk.Now})))
	}
	if err := f.PutRequest(&OIDCAuthRequest{ID: "r1", ClientID: "grafana", Done: true, ExpiresAt: clk.Now().Add(time.Minute), Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	code := flowHash(1)
	if err := f.SaveCode("r1", code, clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := nodes[i%len(nodes)].RedeemCode(code)
			k := "won"
			switch {
			case errors.Is(err, ErrCodeReused):
				k = "reused"
			case err != nil:
				k = err.Error()
			}
			mu.Lock()
			results[k]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if results["won"] != 1 || results["reused"] != 15 {
		t.Fatalf("16 exchanges of one code: %v, want 1 won and 15 reused", results)
	}

	// Tokens issued from a code, then a reuse.
	if err := f.PutRequest(&OIDCAuthRequest{ID: "r2", ClientID: "grafana", Done: true, ExpiresAt: clk.Now().Add(time.Minute), Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	code2 := flowHash(2)
	if err := f.SaveCode("r2", code2, clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RedeemCode(code2); err != nil {
		t.Fatal(err)
	}
	ref := newRefresh(clk, "fam", "")
	if err := s.PutOIDCRefresh(refreshHash(9), ref); err != nil {
		t.Fatal(err)
	}
	if err := f.PutAccess(flowHash(3), &OIDCAccess{UserID: "u1", ClientID: "grafana", ExpiresAt: clk.Now().Add(time.Hour), Family: "fam"}, code2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RedeemCode(code2); !errors.Is(err, ErrCodeReused) {
		t.Fatalf("second exchange: %v, want ErrCodeReused", err)
	}
	if _, err := f.Access(flowHash(3)); !errors.Is(err, ErrNotFound) {
		t.Errorf("access token of a reused code: %v, want ErrNotFound", err)
	}
	if _, err := s.OIDCRefresh(refreshHash(9)); !errors.Is(err, ErrNotFound) {
		t.Errorf("refresh token of a reused code: %v, want ErrNotFound", err)
	}
	if err := f.PutAccess(flowHash(4), &OIDCAccess{UserID: "u1", ClientID: "grafana", ExpiresAt: clk.Now().Add(time.Hour)}, code2); !errors.Is(err, ErrCodeReused) {
		t.Errorf("token issued after the reuse: %v, want ErrCodeReused", err)
	}
	if _, err := f.Access(flowHash(4)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a token dead at birth was stored: %v", err)
	}
}

// TestOIDCFlowsRevoke: access tokens are revoked by token (its client's
// only), by user (at one client or all), by client (requests and codes
// too) and by ending their session on purpose.
func TestOIDCFlowsRevoke(t *testing.T) {
	type tok struct {
		hash                  byte
		user, client, session string
	}
	toks := []tok{{1, "u1", "grafana", "s1"}, {2, "u1", "wiki", "s1"}, {3, "u1", "grafana", "s2"}, {4, "u2", "grafana", "s3"}, {5, "u2", "wiki", ""}}
	sid := func(n string) SessionID { return SessionID{n[1]} }
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, s *Store, f OIDCFlows)
		gone   []byte
	}{
		{"token of its client", func(t *testing.T, s *Store, f OIDCFlows) { must(t, f.RevokeAccess(flowHash(1), "grafana")) }, []byte{1}},
		{"token of another client", func(t *testing.T, s *Store, f OIDCFlows) { must(t, f.RevokeAccess(flowHash(1), "wiki")) }, nil},
		{"user at a client", func(t *testing.T, s *Store, f OIDCFlows) { must(t, f.RevokeUser("u1", "grafana")) }, []byte{1, 3}},
		{"user everywhere", func(t *testing.T, s *Store, f OIDCFlows) { must(t, f.RevokeUser("u1", "")) }, []byte{1, 2, 3}},
		{"client", func(t *testing.T, s *Store, f OIDCFlows) { must(t, f.RevokeClient("wiki")) }, []byte{2, 5}},
		{"session signed out", func(t *testing.T, s *Store, f OIDCFlows) { must(t, s.DeleteSession(sid("s1"))) }, []byte{1, 2}},
		{"user's sessions ended", func(t *testing.T, s *Store, f OIDCFlows) {
			if _, err := s.DeleteUserSessions("u2"); err != nil {
				t.Fatal(err)
			}
		}, []byte{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, "", Options{})
			f := OIDCFlowsOf(s)
			exp := time.Now().Add(time.Hour)
			for _, n := range []string{"s1", "s2", "s3"} {
				user := "u1"
				if n == "s3" {
					user = "u2"
				}
				mustCreateSession(t, s, &Session{ID: sid(n), UserID: user, ExpiresAt: exp})
			}
			for _, k := range toks {
				sess := ""
				if k.session != "" {
					sess = sid(k.session).String()
				}
				must(t, f.PutAccess(flowHash(k.hash), &OIDCAccess{UserID: k.user, ClientID: k.client, SessionID: sess, ExpiresAt: exp}, nil))
			}
			must(t, f.PutRequest(&OIDCAuthRequest{ID: "rw", ClientID: "wiki", ExpiresAt: exp, Data: json.RawMessage(`{}`)}))
			must(t, f.PutRequest(&OIDCAuthRequest{ID: "rc", ClientID: "wiki", Done: true, ExpiresAt: exp, Data: json.RawMessage(`{}`)}))
			must(t, f.SaveCode("rc", flowHash(9), exp))
			tc.revoke(t, s, f)
			for _, k := range toks {
				_, err := f.Access(flowHash(k.hash))
				gone := false
				for _, g := range tc.gone {
					gone = gone || g == k.hash
				}
				if gone != errors.Is(err, ErrNotFound) || !gone && err != nil {
					t.Errorf("token %d: %v, want gone %v", k.hash, err, gone)
				}
			}
			_, errReq := f.Request("rw")
			_, errCode := f.RedeemCode(flowHash(9))
			if wiki := tc.name == "client"; wiki != errors.Is(errReq, ErrNotFound) || wiki != errors.Is(errCode, ErrNotFound) {
				t.Errorf("wiki's request %v, code %v (want gone %v)", errReq, errCode, wiki)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
