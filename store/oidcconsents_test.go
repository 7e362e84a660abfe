package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestOIDCGrants(t *testing.T) {
	s := openTest(t, "", Options{})
	u := &User{Username: "alice", Role: "user"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	g := s.OIDCGrants()
	now := time.Now()
	refresh := func(family, client string, scopes ...string) {
		t.Helper()
		if err := s.PutOIDCRefresh([]byte(family+client), &OIDCRefresh{Family: family, UserID: u.ID, ClientID: client, Scopes: scopes,
			IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Grant(u.ID, "forum", []string{"openid", "email"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c, err := g.Grant(u.ID, "forum", []string{"profile"}, time.Time{})
	if err != nil || !slices.Equal(c.Scopes, []string{"email", "openid", "profile"}) {
		t.Fatalf("merged consent %+v: %v", c, err)
	}
	if c, _ = g.Grant(u.ID, "forum", []string{"groups"}, time.Now().Add(time.Second)); !slices.Equal(c.Scopes, []string{"groups"}) {
		t.Fatalf("a consent older than notBefore was merged: %+v", c)
	}
	refresh("f1", "forum", "openid")
	refresh("f2", "grafana", "openid", "offline_access")
	refresh("f3", "grafana", "openid", "offline_access")
	if err := s.RevokeOIDCFamily("f3"); err != nil {
		t.Fatal(err)
	}
	conns, err := g.Connections(u.ID)
	if err != nil || len(conns) != 2 || conns[0].ClientID != "forum" || conns[0].Consent == nil || len(conns[0].Families) != 1 ||
		conns[1].ClientID != "grafana" || conns[1].Consent != nil || len(conns[1].Families) != 1 {
		t.Fatalf("connections %+v: %v", conns, err)
	}
	if found, err := g.Revoke(u.ID, "nope"); found || err != nil {
		t.Fatalf("revoke of nothing: %v %v", found, err)
	}
	if found, err := g.Revoke(u.ID, "forum"); !found || err != nil {
		t.Fatalf("revoke: %v %v", found, err)
	}
	if _, err := s.OIDCRefresh([]byte("f1forum")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the family outlived the revoke: %v", err)
	}
	if _, err := s.OIDCRefresh([]byte("f2grafana")); err != nil {
		t.Fatalf("another app's family died: %v", err)
	}
	if _, err := g.Grant(u.ID, "forum", []string{"email"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if conns, err := g.Connections(u.ID); err != nil || len(conns) != 0 {
		t.Fatalf("a deleted user's grants: %+v %v", conns, err)
	}
}
