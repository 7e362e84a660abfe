package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func mustCreateUser(t testing.TB, s *Store, u *User) *User {
	t.Helper()
	if err := s.CreateUser(u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

func TestCreateUserFillsFields(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	u := mustCreateUser(t, s, &User{Username: "alice", Email: "alice@example.com", Role: "owner", Groups: []string{"b", "a", "b", ""}})
	if len(u.ID) != 26 || strings.ToLower(u.ID) != u.ID || strings.ContainsAny(u.ID, "=/+") {
		t.Errorf("ID = %q, want 26 lowercase base32 characters", u.ID)
	}
	if !u.CreatedAt.Equal(clk.Now()) || !u.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v", u.CreatedAt, u.UpdatedAt, clk.Now())
	}
	if !slices.Equal(u.Groups, []string{"a", "b"}) {
		t.Errorf("Groups = %q, want sorted and deduplicated", u.Groups)
	}
	got, err := s.User(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Role != "owner" || got.GroupsHeader() != "a,b" {
		t.Errorf("User = %+v", got)
	}
	if s2 := mustCreateUser(t, s, &User{Username: "bob"}); s2.ID == u.ID {
		t.Error("two users got the same id")
	}
}

func TestCreateUserValidation(t *testing.T) {
	s := openTest(t, "", Options{})
	for _, u := range []*User{
		{Username: ""},
		{Username: "  "},
		{Username: "a\x00b"},
		{Username: "a", Email: "x\x00y"},
	} {
		if err := s.CreateUser(u); err == nil {
			t.Errorf("CreateUser(%q, %q) succeeded", u.Username, u.Email)
		}
	}
}

func TestUserLookupsCaseInsensitive(t *testing.T) {
	s := openTest(t, "", Options{})
	u := mustCreateUser(t, s, &User{Username: "alice", Email: "Alice@Example.com"})
	for _, name := range []string{"alice", "ALICE", "Alice"} {
		if got, err := s.UserByUsername(name); err != nil || got.ID != u.ID {
			t.Errorf("UserByUsername(%q) = %v, %v", name, got, err)
		}
	}
	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM"} {
		if got, err := s.UserByEmail(email); err != nil || got.ID != u.ID {
			t.Errorf("UserByEmail(%q) = %v, %v", email, got, err)
		}
	}
	for name, lookup := range map[string]func() error{
		"User":           func() error { _, err := s.User("nope"); return err },
		"UserByUsername": func() error { _, err := s.UserByUsername("bob"); return err },
		"UserByEmail":    func() error { _, err := s.UserByEmail("bob@example.com"); return err },
		"UserByEmail('')": func() error {
			_, err := s.UserByEmail("")
			return err
		},
	} {
		if err := lookup(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", name, err)
		}
	}
}

func TestCreateUserConflicts(t *testing.T) {
	s := openTest(t, "", Options{})
	a := mustCreateUser(t, s, &User{Username: "alice", Email: "alice@example.com"})
	mustCreateUser(t, s, &User{Username: "noemail1"})
	mustCreateUser(t, s, &User{Username: "noemail2"}) // empty emails are not indexed
	for _, u := range []*User{
		{Username: "ALICE"},
		{Username: "alice2", Email: "Alice@Example.COM"},
		{Username: "alice3", ID: a.ID},
	} {
		if err := s.CreateUser(u); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateUser(%+v) = %v, want ErrConflict", u, err)
		}
	}
	if n, err := s.CountUsers(); err != nil || n != 3 {
		t.Errorf("CountUsers = %d, %v; want 3", n, err)
	}
}

// TestCreateUserConcurrentUniqueness races creates of one username (in
// different cases), then of one email, then of distinct users.
func TestCreateUserConcurrentUniqueness(t *testing.T) {
	const n = 20
	race := func(s *Store, mk func(i int) *User) (ok, conflict int, others []error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				err := s.CreateUser(mk(i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrConflict):
					conflict++
				default:
					others = append(others, err)
				}
			})
		}
		close(start)
		wg.Wait()
		return ok, conflict, others
	}

	t.Run("username", func(t *testing.T) {
		s := openTest(t, "", Options{})
		ok, conflict, others := race(s, func(i int) *User {
			return &User{Username: []string{"Alice", "alice", "ALICE"}[i%3]}
		})
		if ok != 1 || conflict != n-1 || len(others) > 0 {
			t.Errorf("ok=%d conflict=%d others=%v; want 1, %d, none", ok, conflict, others, n-1)
		}
		if c, _ := s.CountUsers(); c != 1 {
			t.Errorf("CountUsers = %d, want 1", c)
		}
	})
	t.Run("email", func(t *testing.T) {
		s := openTest(t, "", Options{})
		ok, conflict, others := race(s, func(i int) *User {
			return &User{Username: fmt.Sprintf("user%d", i), Email: []string{"Bob@x.org", "bob@x.org"}[i%2]}
		})
		if ok != 1 || conflict != n-1 || len(others) > 0 {
			t.Errorf("ok=%d conflict=%d others=%v; want 1, %d, none", ok, conflict, others, n-1)
		}
		users, _, err := s.ListUsers("", 100)
		if err != nil || len(users) != 1 {
			t.Errorf("ListUsers = %d users, %v; want 1 (no orphan index entries)", len(users), err)
		}
	})
	t.Run("distinct", func(t *testing.T) {
		s := openTest(t, "", Options{})
		ok, conflict, others := race(s, func(i int) *User {
			return &User{Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("u%d@x.org", i)}
		})
		if ok != n || conflict != 0 || len(others) > 0 {
			t.Errorf("ok=%d conflict=%d others=%v; want all %d", ok, conflict, others, n)
		}
	})
}

func TestUpdateUser(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	a := mustCreateUser(t, s, &User{Username: "alice", Email: "alice@x.org", Groups: []string{"a"}})
	mustCreateUser(t, s, &User{Username: "bob", Email: "bob@x.org"})
	before, _ := s.User(a.ID) // cached
	clk.Advance(time.Minute)

	got, err := s.UpdateUser(a.ID, func(u *User) error {
		u.Username = "alicia"
		u.Email = "Alicia@x.org"
		u.Groups = []string{"z", "a", "z"}
		u.ID = "hijack"               // ignored
		u.CreatedAt = time.Unix(0, 0) // ignored
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("UpdateUser result = %+v", got)
	}
	if got.GroupsHeader() != "a,z" {
		t.Errorf("GroupsHeader = %q, want a,z", got.GroupsHeader())
	}
	if before.Username != "alice" || before.GroupsHeader() != "a" {
		t.Error("UpdateUser modified the previously returned snapshot")
	}
	if cur, _ := s.User(a.ID); cur.Username != "alicia" {
		t.Errorf("User after update = %q, want the change visible at once", cur.Username)
	}
	// The old name and email are free, the new ones indexed.
	if _, err := s.UserByUsername("alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old username still indexed: %v", err)
	}
	if _, err := s.UserByEmail("alice@x.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old email still indexed: %v", err)
	}
	if u, err := s.UserByUsername("ALICIA"); err != nil || u.ID != a.ID {
		t.Errorf("UserByUsername(new) = %v, %v", u, err)
	}
	if u, err := s.UserByEmail("alicia@X.org"); err != nil || u.ID != a.ID {
		t.Errorf("UserByEmail(new) = %v, %v", u, err)
	}
	mustCreateUser(t, s, &User{Username: "alice", Email: "alice@x.org"}) // freed

	// Case-only rename and dropping the email.
	if _, err := s.UpdateUser(a.ID, func(u *User) error { u.Username = "Alicia"; u.Email = ""; return nil }); err != nil {
		t.Fatalf("case-only rename: %v", err)
	}
	if _, err := s.UserByEmail("alicia@x.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed email still indexed: %v", err)
	}
	if _, err := s.UserByUsername("alicia"); err != nil {
		t.Errorf("case-only rename lost the index: %v", err)
	}
}

func TestUpdateUserConflictChangesNothing(t *testing.T) {
	s := openTest(t, "", Options{})
	a := mustCreateUser(t, s, &User{Username: "alice", Email: "alice@x.org"})
	mustCreateUser(t, s, &User{Username: "bob", Email: "bob@x.org"})
	for name, fn := range map[string]func(u *User) error{
		"username": func(u *User) error { u.Username = "BOB"; u.FullName = "changed"; return nil },
		"email":    func(u *User) error { u.Email = "bob@X.org"; u.FullName = "changed"; return nil },
		"both": func(u *User) error {
			u.Username, u.Email, u.FullName = "carol", "BOB@x.org", "changed"
			return nil
		},
	} {
		if _, err := s.UpdateUser(a.ID, fn); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: UpdateUser = %v, want ErrConflict", name, err)
		}
	}
	u, err := s.User(a.ID)
	if err != nil || u.Username != "alice" || u.Email != "alice@x.org" || u.FullName != "" {
		t.Fatalf("user after failed updates = %+v, %v", u, err)
	}
	for _, name := range []string{"alice", "bob"} {
		if _, err := s.UserByUsername(name); err != nil {
			t.Errorf("UserByUsername(%q) = %v", name, err)
		}
	}
	if _, err := s.UserByUsername("carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("carol indexed after a failed update: %v", err)
	}
	if b, err := s.UserByEmail("bob@x.org"); err != nil || b.Username != "bob" {
		t.Errorf("bob's email = %v, %v", b, err)
	}
}

func TestUpdateUserFnErrorAndMissing(t *testing.T) {
	s := openTest(t, "", Options{})
	a := mustCreateUser(t, s, &User{Username: "alice"})
	boom := errors.New("boom")
	if _, err := s.UpdateUser(a.ID, func(u *User) error { u.Username = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateUser = %v, want fn's error", err)
	}
	if u, _ := s.User(a.ID); u.Username != "alice" {
		t.Errorf("username = %q after failed fn", u.Username)
	}
	if _, err := s.UpdateUser("nope", func(*User) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateUser(missing) = %v, want ErrNotFound", err)
	}
}

// TestUpdateUserEndingSessions: the change and the end of the sessions are
// one transaction (the same Badger version on the user record and on each
// deleted session, for the first chunk), the kept session survives, past a
// chunk every session still ends, and a refused change ends none.
func TestUpdateUserEndingSessions(t *testing.T) {
	s := openTest(t, "", Options{})
	alice := mustCreateUser(t, s, &User{Username: "alice"})
	mustCreateUser(t, s, &User{Username: "bob"})
	end := time.Now().Add(time.Hour)
	const many = deleteSessionsChunk + 100
	ids := make([]SessionID, many)
	for i := range ids {
		ids[i] = SessionID{byte(i), byte(i >> 8), 9}
		mustCreateSession(t, s, &Session{ID: ids[i], UserID: alice.ID, ExpiresAt: end})
	}
	keep := ids[7]
	live := func() int {
		t.Helper()
		list, err := s.UserSessions(alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	// Refused changes end nothing: fn's error as is, a conflict wrapped.
	boom := errors.New("boom")
	if _, _, err := s.UpdateUserEndingSessions(alice.ID, func(u *User) error { return boom }, keep); err != boom {
		t.Errorf("fn fails: %v, want its error as is", err)
	}
	if _, _, err := s.UpdateUserEndingSessions(alice.ID, func(u *User) error { u.Username = "bob"; return nil }, keep); !errors.Is(err, ErrConflict) {
		t.Errorf("username taken: %v, want ErrConflict", err)
	}
	if _, _, err := s.UpdateUserEndingSessions("nobody", func(u *User) error { return nil }, keep); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if n := live(); n != many {
		t.Fatalf("after refused changes %d sessions, want %d", n, many)
	}
	for _, id := range ids {
		if _, err := s.SessionAuth(id); err != nil {
			t.Fatalf("after refused changes, session %s: %v", id, err)
		}
	}

	u, n, err := s.UpdateUserEndingSessions(alice.ID, func(u *User) error { u.PasswordHash = "new"; return nil }, keep)
	if err != nil || n != many-1 || u.PasswordHash != "new" {
		t.Fatalf("UpdateUserEndingSessions = %v, %d, %v; want %d ended", u, n, err, many-1)
	}
	if got, err := s.User(alice.ID); err != nil || got.PasswordHash != "new" {
		t.Errorf("User after the change = %v, %v", got, err)
	}
	if n := live(); n != 1 {
		t.Errorf("%d sessions left, want the kept one", n)
	}
	for _, id := range ids {
		_, err := s.SessionAuth(id)
		if (id == keep) != (err == nil) {
			t.Errorf("session %s (kept: %v): %v", id, id == keep, err)
		}
	}
	// One transaction: the user record and the deletions of the first
	// chunk carry the same commit version.
	bk, ok := s.db.(badgerKV)
	if !ok {
		return // commit versions are Badger's
	}
	err = bk.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(userKey(alice.ID))
		if err != nil {
			return err
		}
		version := item.Version()
		opts := badger.DefaultIteratorOptions
		opts.AllVersions = true
		same := 0
		for _, id := range ids {
			if id == keep {
				continue
			}
			opts.Prefix = sessionKey(id)
			it := txn.NewIterator(opts)
			it.Rewind()
			if it.Valid() && it.Item().IsDeletedOrExpired() && it.Item().Version() == version {
				same++
			}
			it.Close()
		}
		if same != deleteSessionsChunk {
			t.Errorf("%d deletions committed with the change, want the first chunk (%d)", same, deleteSessionsChunk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Without a session to keep, and with none left to end.
	if _, n, err := s.UpdateUserEndingSessions(alice.ID, func(u *User) error { u.FullName = "Alice"; return nil }, SessionID{}); err != nil || n != 1 {
		t.Errorf("ending all: %d, %v; want 1", n, err)
	}
	if _, n, err := s.UpdateUserEndingSessions(alice.ID, func(u *User) error { u.FullName = "A."; return nil }, SessionID{}); err != nil || n != 0 {
		t.Errorf("nothing to end: %d, %v", n, err)
	}
	if a, err := s.Account(alice.ID); err != nil || a.FullName != "A." {
		t.Errorf("Account after the changes = %+v, %v", a, err)
	}
}

func TestConcurrentUpdatesCacheConsistent(t *testing.T) {
	s := openTest(t, "", Options{})
	a := mustCreateUser(t, s, &User{Username: "alice"})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := s.UpdateUser(a.ID, func(u *User) error {
				u.Groups = append(u.Groups, fmt.Sprintf("g%02d", i))
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := s.User(a.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	u, _ := s.User(a.ID)
	if len(u.Groups) != 10 {
		t.Errorf("groups = %q, want all 10 updates applied", u.Groups)
	}
	s.users.remove(a.ID)
	fresh, _ := s.User(a.ID)
	if fresh.GroupsHeader() != u.GroupsHeader() {
		t.Errorf("cache %q differs from disk %q", u.GroupsHeader(), fresh.GroupsHeader())
	}
}

func TestDeleteUser(t *testing.T) {
	clk := newClock()
	s := openTest(t, "", Options{Now: clk.Now})
	a := mustCreateUser(t, s, &User{Username: "alice", Email: "alice@x.org"})
	b := mustCreateUser(t, s, &User{Username: "bob"})
	var aSess []SessionID
	for i := range 3 {
		id := SessionID{1, byte(i)}
		aSess = append(aSess, id)
		mustCreateSession(t, s, &Session{ID: id, UserID: a.ID, ExpiresAt: clk.Now().Add(time.Hour)})
		s.TouchSession(id, clk.Now().Add(time.Second)) // dirty: a flush must not resurrect it
	}
	bSess := mustCreateSession(t, s, &Session{ID: SessionID{2}, UserID: b.ID, ExpiresAt: clk.Now().Add(time.Hour)})
	if _, err := s.User(a.ID); err != nil { // cached
		t.Fatal(err)
	}

	if err := s.DeleteUser(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("User after delete = %v", err)
	}
	if _, err := s.UserByUsername("alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserByUsername after delete = %v", err)
	}
	for _, id := range aSess {
		if _, err := s.Session(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Session %s after DeleteUser = %v", id, err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, id := range aSess {
		if _, err := s.Session(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Session %s resurrected by Flush: %v", id, err)
		}
	}
	if list, err := s.UserSessions(a.ID); err != nil || len(list) != 0 {
		t.Errorf("UserSessions after delete = %v, %v", list, err)
	}
	if _, err := s.Session(bSess.ID); err != nil {
		t.Errorf("other user's session gone: %v", err)
	}
	if err := s.DeleteUser(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
	// The name and email are free again.
	mustCreateUser(t, s, &User{Username: "Alice", Email: "ALICE@x.org"})
}

func TestListUsersPaging(t *testing.T) {
	s := openTest(t, "", Options{})
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("user%02d", i)
		if i%2 == 1 {
			name = strings.ToUpper(name)
		}
		mustCreateUser(t, s, &User{Username: name})
		want = append(want, strings.ToLower(name))
	}
	for _, limit := range []int{1, 5, 10, 23, 50} {
		var got []string
		after, pages := "", 0
		for {
			users, next, err := s.ListUsers(after, limit)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(users) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(users))
			}
			for _, u := range users {
				got = append(got, strings.ToLower(u.Username))
			}
			if next == "" {
				break
			}
			after = next
			if pages > 100 {
				t.Fatal("paging does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: got %q, want %q", limit, got, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	users, next, err := s.ListUsers("", 0)
	if err != nil || len(users) != 23 || next != "" {
		t.Errorf("default limit: %d users, next %q, %v", len(users), next, err)
	}
	users, next, err = s.ListUsers("USER10", 3)
	if err != nil || len(users) != 3 || strings.ToLower(users[0].Username) != "user11" || next != "user13" {
		t.Errorf("ListUsers(USER10, 3) = %d users, next %q, %v", len(users), next, err)
	}
	if users, next, err := s.ListUsers("zzz", 3); err != nil || len(users) != 0 || next != "" {
		t.Errorf("ListUsers past the end = %v, %q, %v", users, next, err)
	}
}

func TestCountUsersEmpty(t *testing.T) {
	s := openTest(t, "", Options{})
	if n, err := s.CountUsers(); err != nil || n != 0 {
		t.Errorf("CountUsers = %d, %v", n, err)
	}
}

func TestUserCloneAndGroupsHeader(t *testing.T) {
	s := openTest(t, "", Options{})
	u := mustCreateUser(t, s, &User{Username: "alice", Groups: []string{"b", "a"}})
	shared, _ := s.User(u.ID)
	c := shared.Clone()
	c.Groups[0] = "changed"
	c.Groups = append(c.Groups, "c")
	if shared.Groups[0] != "a" || len(shared.Groups) != 2 {
		t.Errorf("Clone shares Groups: %q", shared.Groups)
	}
	if c.GroupsHeader() != "changed,b,c" {
		t.Errorf("clone GroupsHeader = %q", c.GroupsHeader())
	}
	if (&User{}).GroupsHeader() != "" {
		t.Error("empty GroupsHeader not empty")
	}
	if n := testing.AllocsPerRun(100, func() { _ = shared.GroupsHeader() }); n != 0 {
		t.Errorf("GroupsHeader allocates %v times", n)
	}
}

func TestUserHitDoesNotAllocate(t *testing.T) {
	s := openTest(t, "", Options{})
	u := mustCreateUser(t, s, &User{Username: "alice"})
	if _, err := s.User(u.ID); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = s.User(u.ID) }); n != 0 {
		t.Errorf("User cache hit allocates %v times", n)
	}
}
