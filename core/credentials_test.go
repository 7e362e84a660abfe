package core

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/store"
)

// TestCreatorRefusal: the creator of a credential is found by id, or by
// the username of records written before CreatedBy existed, and the
// credential is refused once they could no longer make it.
func TestCreatorRefusal(t *testing.T) {
	svc, st := newTestCore(t)
	adam := mustUser(t, svc, "adam", "admin")
	demoted := mustUser(t, svc, "dora", "admin")
	off := mustUser(t, svc, "otto", "admin")
	alice := mustUser(t, svc, "alice", "user")
	if _, err := st.UpdateUser(demoted.ID, func(u *store.User) error { u.Role = "user"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateUser(off.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		createdBy string
		data      map[string]string
		want      string // "" when allowed, else part of the refusal
	}{
		{"an admin by id", adam.ID, map[string]string{"by": "adam"}, ""},
		{"the CLI", creatorCLI, map[string]string{"by": "cli"}, ""},
		{"asked for by the user (no creator)", "", nil, ""},
		{"legacy record of an admin", "", map[string]string{"by": "adam"}, ""},
		{"legacy invitation of an admin", "", map[string]string{"invited_by": "adam"}, ""},
		{"legacy record of the CLI", "", map[string]string{"by": "cli"}, ""},
		{"demoted creator", demoted.ID, map[string]string{"by": "dora"}, "dora, who made it, may no longer"},
		{"legacy record of a demoted creator", "", map[string]string{"by": "dora"}, "dora, who made it, may no longer"},
		{"disabled creator", off.ID, nil, "otto, who made it, is disabled"},
		{"deleted creator", "nosuchid", map[string]string{"by": "zed"}, "the account of zed, who made it, was deleted"},
		{"legacy record of a deleted creator", "", map[string]string{"by": "zed"}, "was deleted"},
	}
	for _, tc := range tests {
		tok := &store.Token{Kind: tokenKindReset, UserID: alice.ID, CreatedBy: tc.createdBy, Data: tc.data}
		got, err := svc.Credentials.creatorRefusal(tok, svc.Credentials.manageCheck(alice))
		if err != nil || (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// An admin may not manage an owner: a link an admin made for someone
	// who became an owner since is refused too.
	olga := mustUser(t, svc, "olga", "owner")
	tok := &store.Token{Kind: tokenKindReset, UserID: olga.ID, CreatedBy: adam.ID}
	if got, _ := svc.Credentials.creatorRefusal(tok, svc.Credentials.manageCheck(olga)); !strings.Contains(got, "only owners") {
		t.Errorf("admin's link for an owner: %q", got)
	}
}
