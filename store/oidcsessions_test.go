package store

import (
	"slices"
	"testing"
	"time"
)

// TestOIDCActivity: the session clients of sessions ended on purpose reach
// the hook once, and RevokeClient revokes every family of a client.
func TestOIDCActivity(t *testing.T) {
	s := openTest(t, "", Options{})
	a := OIDCActivityOf(s)
	ended := make(chan []OIDCSessionClient, 4)
	a.OnSessionsEnded(func(c []OIDCSessionClient) { ended <- c })
	day := time.Now().Add(24 * time.Hour)
	u := mustCreateUser(t, s, &User{Username: "alice", PasswordHash: "h1"})
	s1 := mustCreateSession(t, s, &Session{ID: SessionID{1}, UserID: u.ID, ExpiresAt: day})
	s2 := mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: u.ID, ExpiresAt: day})
	s3 := mustCreateSession(t, s, &Session{ID: SessionID{3}, UserID: u.ID, ExpiresAt: day})
	for _, c := range []OIDCSessionClient{
		{SessionID: s1.ID.String(), ClientID: "grafana", UserID: u.ID},
		{SessionID: s1.ID.String(), ClientID: "wiki", UserID: u.ID},
		{SessionID: s2.ID.String(), ClientID: "grafana", UserID: u.ID},
	} {
		if err := a.PutSessionClient(c, day); err != nil {
			t.Fatal(err)
		}
	}
	take := func(want ...string) {
		t.Helper()
		select {
		case got := <-ended:
			var names []string
			for _, c := range got {
				if c.UserID != u.ID {
					t.Errorf("user %q", c.UserID)
				}
				names = append(names, c.SessionID[:2]+"/"+c.ClientID)
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Fatalf("ended %v, want %v", names, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("hook not called, want %v", want)
		}
	}
	if err := s.DeleteSession(s1.ID); err != nil {
		t.Fatal(err)
	}
	take("01/grafana", "01/wiki")
	if err := s.DeleteSession(s1.ID); err != nil { // gone: nothing again
		t.Fatal(err)
	}
	if _, err := s.DeleteUserSessionsExcept(u.ID, s3.ID); err != nil {
		t.Fatal(err)
	}
	take("02/grafana")
	select {
	case got := <-ended:
		t.Fatalf("hook called again with %v", got)
	case <-time.After(100 * time.Millisecond):
	}

	// RevokeClient: every family of the client, not another client's.
	put := func(tok, fam, client string) []byte {
		h := []byte(tok)
		if err := s.PutOIDCRefresh(h, &OIDCRefresh{Family: fam, UserID: u.ID, ClientID: client, ExpiresAt: day}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	g1, g2, w1 := put("t1", "f1", "grafana"), put("t2", "f2", "grafana"), put("t3", "f3", "wiki")
	if err := a.PutLastUse("grafana", time.Unix(1_800_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	if used, err := a.LastUse(); err != nil || !used["grafana"].Equal(time.Unix(1_800_000_000, 0)) {
		t.Fatalf("last use %v: %v", used, err)
	}
	if err := a.RevokeClient("grafana"); err != nil {
		t.Fatal(err)
	}
	for _, h := range [][]byte{g1, g2} {
		if _, err := s.OIDCRefresh(h); err == nil {
			t.Errorf("grafana's refresh token %s survived", h)
		}
	}
	if _, err := s.OIDCRefresh(w1); err != nil {
		t.Errorf("wiki's refresh token: %v", err)
	}
	if used, _ := a.LastUse(); len(used) != 0 {
		t.Errorf("last use after revoke: %v", used)
	}
}
