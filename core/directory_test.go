package core

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/directory"
	"github.com/gatehouse-auth/gatehouse/internal/slapdtest"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// dirCore is a Core whose external directory is a real slapd loaded with
// slapdtest's example directory, and a local owner "olga".
type dirCore struct {
	*Core
	st    *store.Store
	ldap  *slapdtest.Server
	owner *store.User
}

func newDirCore(t *testing.T, opts DirectoryOptions, server slapdtest.Options) *dirCore {
	t.Helper()
	if server.LDIF == "" {
		server.LDIF = slapdtest.ExampleLDIF()
	}
	srv := slapdtest.Start(t, server)
	c, st := newTestCore(t)
	client, err := directory.New(directory.Config{URL: srv.URL, BindDN: slapdtest.ReaderDN, BindPassword: slapdtest.ReaderPassword,
		BaseDN: srv.Suffix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	opts.Client = client
	c.dir = &opts
	return &dirCore{Core: c, st: st, ldap: srv, owner: mustUser(t, c, "olga", policies.RoleOwner)}
}

// signIn is Authenticate from a fresh client address.
func (d *dirCore) signIn(login, pw string) (*store.User, error) {
	u, _, _, err := d.Auth.Authenticate(context.Background(), &Actor{Via: ViaAPI, IP: "192.0.2.10"}, login, pw)
	return u, err
}

// ownerActor is olga in a portal session.
func (d *dirCore) ownerActor() *Actor {
	perms, _ := d.PermsOf(policies.RoleOwner)
	return &Actor{User: d.owner, Perms: perms, Via: ViaAPI, Credential: CredSession, IP: "192.0.2.1"}
}

// userActor is u in a portal session that signed in now.
func (d *dirCore) userActor(u *store.User) *Actor {
	perms, _ := d.PermsOf(u.Role)
	return &Actor{User: u, Perms: perms, Via: ViaAPI, Credential: CredSession, IP: "192.0.2.2",
		Session: store.Session{CreatedAt: d.now()}}
}

func TestDirectorySignIn(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{AutoCreate: true, SyncGroups: true}, slapdtest.Options{AllowUnauthenticatedBind: true})
	// A local account with a directory person's username stays local.
	carol := mustUser(t, d.Core, "carol", policies.RoleUser)

	for _, tc := range []struct {
		name, login, pw string
		want            error
		user            string
	}{
		{"the owner's local password", "olga", testPW, nil, "olga"},
		{"a directory password", "alice", "alice-pw", nil, "alice"},
		{"again, now that the account exists", "alice", "alice-pw", nil, "alice"},
		{"by e-mail address, first sign-in", "bob@example.org", "bob-pw", nil, "bob"},
		{"wrong directory password", "alice", "bob-pw", ErrBadCredentials, ""},
		{"unknown everywhere", "mallory", "alice-pw", ErrBadCredentials, ""},
		{"empty password of a directory user", "alice", "", ErrBadCredentials, ""},
		{"empty password, no account yet", "uid=alice,ou=people,dc=example,dc=org", "", ErrBadCredentials, ""},
		{"filter injection", "al*", "alice-pw", ErrBadCredentials, ""},
		{"filter injection, no account yet", "*)(|(uid=bob)", "bob-pw", ErrBadCredentials, ""},
		{"local account: the directory's password does not work", "carol", "carol-pw", ErrBadCredentials, ""},
		{"local account: its own password does", "carol", testPW, nil, "carol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := d.signIn(tc.login, tc.pw)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Authenticate(%q) = %v, want %v", tc.login, err, tc.want)
			}
			if tc.user != "" && u.Username != tc.user {
				t.Errorf("signed in as %q, want %q", u.Username, tc.user)
			}
		})
	}
	alice, err := d.st.UserByUsername("alice")
	if err != nil {
		t.Fatal(err)
	}
	if alice.Source != store.SourceLDAP || alice.Role != policies.RoleUser || alice.Email != "alice@example.org" ||
		alice.FullName != "Alice Liddell" || alice.PasswordHash != "" || !strings.EqualFold(alice.ExternalID, "uid=alice,"+slapdtest.People) {
		t.Errorf("alice's account: %+v", alice)
	}
	if !slices.Equal(alice.Groups, []string{"devs", "ops-team"}) || !slices.Equal(alice.ExternalGroups, alice.Groups) {
		t.Errorf("alice's groups = %q, external %q", alice.Groups, alice.ExternalGroups)
	}
	if alice.LastLoginAt.IsZero() {
		t.Error("no last sign-in recorded")
	}
	for _, g := range []string{"devs", "ops-team"} {
		if _, err := d.st.Group(g); err != nil {
			t.Errorf("group %s: %v", g, err)
		}
	}
	if c, _ := d.st.UserByUsername("carol"); c.Source != "" || c.PasswordHash != carol.PasswordHash {
		t.Errorf("the local carol was changed: %+v", c)
	}
	if _, err := d.st.UserByUsername("mallory"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an account was made for an unknown login: %v", err)
	}
}

// TestDirectoryAutoCreateOff: without auto_create a directory person gets
// no account at sign-in, and gets one from a synchronisation.
func TestDirectoryAutoCreateOff(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{}, slapdtest.Options{})
	if _, err := d.signIn("alice", "alice-pw"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("sign-in without an account: %v", err)
	}
	if _, err := d.st.UserByUsername("alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("account made without auto_create: %v", err)
	}
	rep, err := d.Directory.Sync(context.Background(), d.ownerActor())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 3 || rep.People != 3 {
		t.Errorf("report: %+v", rep)
	}
	if u, err := d.signIn("alice", "alice-pw"); err != nil || u.Source != store.SourceLDAP {
		t.Fatalf("sign-in after the synchronisation: %+v, %v", u, err)
	}
}

// TestDirectoryGroups: memberships of directory groups follow the
// directory at each sign-in; local memberships stay; a group gone from
// the directory stays, without its directory members.
func TestDirectoryGroups(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{AutoCreate: true, SyncGroups: true}, slapdtest.Options{})
	alice, err := d.signIn("alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	grp := []string{"devs", "local-only", "ops-team"}
	if _, err := d.Users.UpdateUser(d.ownerActor(), alice.ID, UserPatch{Groups: &grp}); err != nil {
		t.Fatal(err)
	}
	d.ldap.Replace(t, "cn=devs,"+slapdtest.Groups, "member", "uid=bob,"+slapdtest.People)
	d.ldap.Delete(t, "cn=Ops Team,"+slapdtest.Groups)
	d.ldap.Replace(t, "uid=alice,"+slapdtest.People, "cn", "Alice Pleasance Liddell")
	alice, err = d.signIn("alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alice.Groups, []string{"local-only"}) || len(alice.ExternalGroups) != 0 {
		t.Errorf("groups after the directory dropped alice from devs and ops-team: %q (external %q)", alice.Groups, alice.ExternalGroups)
	}
	if alice.FullName != "Alice Pleasance Liddell" {
		t.Errorf("full name not refreshed: %q", alice.FullName)
	}
	if _, err := d.st.Group("ops-team"); err != nil {
		t.Errorf("the group gone from the directory was deleted: %v", err)
	}
}

// TestDirectoryDown: with the directory down, local accounts sign in and
// directory users get ErrDirectoryUnavailable, not "wrong password"; a
// directory that accepts connections and never answers costs its users
// the timeout and nobody else anything.
func TestDirectoryDown(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{AutoCreate: true}, slapdtest.Options{})
	if _, err := d.signIn("alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	d.ldap.Stop()
	if _, err := d.signIn("olga", testPW); err != nil {
		t.Errorf("the owner with the directory down: %v", err)
	}
	for _, login := range []string{"alice", "bob"} {
		if _, err := d.signIn(login, login+"-pw"); !errors.Is(err, ErrDirectoryUnavailable) {
			t.Errorf("%s with the directory down: %v, want ErrDirectoryUnavailable", login, err)
		}
	}
	if _, err := d.Directory.Sync(context.Background(), d.ownerActor()); !errors.Is(err, ErrDirectoryUnavailable) {
		t.Errorf("sync with the directory down: %v", err)
	}
	if u, _ := d.st.UserByUsername("alice"); u.Disabled {
		t.Error("a failed synchronisation disabled alice")
	}
	if n, err := d.st.CountUsers(); err != nil || n != 2 {
		t.Errorf("%d users, %v", n, err)
	}
}

// TestDirectorySync: a synchronisation creates, updates, makes groups and
// disables the accounts of people gone from the directory (ending their
// sessions), never deleting them; a local account with a directory
// person's username is reported and left alone.
func TestDirectorySync(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{SyncGroups: true}, slapdtest.Options{})
	mustUser(t, d.Core, "carol", policies.RoleUser)
	rep, err := d.Directory.Sync(context.Background(), d.ownerActor())
	if err != nil {
		t.Fatal(err)
	}
	if rep.People != 3 || rep.Created != 2 || rep.Updated != 0 || rep.Disabled != 0 || rep.GroupsCreated != 2 ||
		len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], `local account is named "carol"`) {
		t.Errorf("first report: %+v", rep)
	}
	bob, err := d.signIn("bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Sessions.Start(&Actor{IP: "192.0.2.3"}, bob, false, func(*store.Session) {}); err != nil {
		t.Fatal(err)
	}
	if ss, _ := d.st.UserSessions(bob.ID); len(ss) != 1 {
		t.Fatalf("bob has %d sessions", len(ss))
	}

	d.ldap.Delete(t, "uid=bob,"+slapdtest.People)
	d.ldap.Replace(t, "uid=alice,"+slapdtest.People, "mail", "alice@new.example.org")
	rep, err = d.Directory.Sync(context.Background(), d.ownerActor())
	if err != nil {
		t.Fatal(err)
	}
	if rep.People != 2 || rep.Created != 0 || rep.Updated != 1 || rep.Disabled != 1 || rep.GroupsCreated != 0 {
		t.Errorf("second report: %+v", rep)
	}
	bob, err = d.st.UserByUsername("bob")
	if err != nil {
		t.Fatalf("bob was deleted: %v", err)
	}
	if !bob.Disabled {
		t.Error("bob, gone from the directory, is still enabled")
	}
	if ss, _ := d.st.UserSessions(bob.ID); len(ss) != 0 {
		t.Errorf("bob still has %d sessions", len(ss))
	}
	if u, _ := d.st.UserByUsername("alice"); u.Email != "alice@new.example.org" {
		t.Errorf("alice's address = %q", u.Email)
	}
	if last := d.Directory.LastSync(); last == nil || last.Disabled != 1 {
		t.Errorf("last report: %+v", last)
	}
	// A restart (a new Core on the same store) remembers it.
	again, err := New(Options{Store: d.st, PortalURL: d.portal, Hasher: d.hasher, Now: time.Now, Directory: d.dir})
	if err != nil {
		t.Fatal(err)
	}
	if last := again.Directory.LastSync(); last == nil || last.Disabled != 1 || last.People != 2 {
		t.Errorf("last report after a restart: %+v", last)
	}
	evs, _, err := d.ListAudit(store.AuditFilter{Action: ActionDirectorySync}, "", 10)
	if err != nil || len(evs) != 2 || !strings.Contains(evs[0].Reason, "1 disabled") {
		t.Errorf("audit: %+v, %v", evs, err)
	}

	// A directory that lists nobody (a wrong base DN or filter) disables
	// nobody.
	d.ldap.Delete(t, "uid=alice,"+slapdtest.People)
	d.ldap.Delete(t, "uid=carol,"+slapdtest.People)
	rep, err = d.Directory.Sync(context.Background(), d.ownerActor())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Disabled != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "listed nobody") {
		t.Errorf("report of an empty directory: %+v", rep)
	}
	if u, _ := d.st.UserByUsername("alice"); u.Disabled {
		t.Error("alice was disabled by an empty listing")
	}
}

// TestDirectorySyncPermission: users.write is needed; a user manager
// cannot disable an admin through the directory.
func TestDirectorySyncPermission(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{AutoCreate: true}, slapdtest.Options{})
	alice, err := d.signIn("alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	admin := "admin"
	if _, err := d.Users.UpdateUser(d.ownerActor(), alice.ID, UserPatch{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	auditor := mustUser(t, d.Core, "audrey", policies.RoleAuditor)
	if _, err := d.Directory.Sync(context.Background(), d.userActor(auditor)); !errors.Is(err, ErrForbidden) {
		t.Errorf("sync by an auditor: %v", err)
	}
	manager := mustUser(t, d.Core, "manny", policies.RoleUserManager)
	d.ldap.Delete(t, "uid=alice,"+slapdtest.People)
	rep, err := d.Directory.Sync(context.Background(), d.userActor(manager))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Disabled != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "alice") {
		t.Errorf("a user manager's sync: %+v", rep)
	}
	rep, err = d.Directory.Sync(context.Background(), d.SystemActor("directory-sync"))
	if err != nil || rep.Disabled != 1 {
		t.Errorf("the scheduled sync: %+v, %v", rep, err)
	}
}

// TestDirectoryPasswordManaged: nothing sets, resets or makes a password
// for a directory user; re-proving oneself binds to the directory.
func TestDirectoryPasswordManaged(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{AutoCreate: true}, slapdtest.Options{})
	alice, err := d.signIn("alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	owner := d.ownerActor()
	managed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "managed by the external directory") {
			t.Errorf("%s: %v, want the password-managed conflict", what, err)
		}
	}
	managed("change own password", d.Credentials.ChangeOwnPassword(ctx, d.userActor(alice), "alice-pw", "N3w-password-here"))
	managed("admin sets the password", d.Credentials.AdminSetPassword(ctx, owner, "alice", "N3w-password-here"))
	_, err = d.Credentials.AdminResetLink(ctx, owner, "alice")
	managed("reset link", err)
	_, _, err = d.Credentials.MakeTempPassword(ctx, owner, "alice")
	managed("temporary password", err)
	d.Credentials.ForgotPassword(ctx, &Actor{IP: "192.0.2.9"}, "alice@example.org")
	time.Sleep(50 * time.Millisecond)
	if toks, err := d.st.ListTokens(tokenKindReset); err != nil || len(toks) != 0 {
		t.Errorf("forgot password made %d reset links, %v", len(toks), err)
	}
	if u, _ := d.st.User(alice.ID); u.PasswordHash != "" {
		t.Error("a password hash was stored for a directory user")
	}
	// Re-proving: the directory password, not a stored one.
	if err := d.Auth.FreshProof(ctx, d.userActor(alice), "alice-pw", ""); err != nil {
		t.Errorf("fresh proof with the directory password: %v", err)
	}
	if err := d.Auth.FreshProof(ctx, d.userActor(alice), "wrong", ""); !errors.Is(err, ErrBadProof) {
		t.Errorf("fresh proof with a wrong password: %v", err)
	}
}

// TestDirectoryLockout: wrong directory passwords lock the account like
// wrong local ones; then even the right one is refused.
func TestDirectoryLockout(t *testing.T) {
	d := newDirCore(t, DirectoryOptions{AutoCreate: true}, slapdtest.Options{})
	if _, err := d.signIn("alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	for range DefaultLockoutThreshold {
		if _, err := d.signIn("alice", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := d.signIn("alice", "alice-pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("right password on a locked account: %v", err)
	}
}
