package store

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is an injectable time source for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens a store in dir (a fresh temp dir when ""), closed at the
// end of the test.
func openTest(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(testStorage(t, dir), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	badgerOnly(t, "a storage directory")
	dir := filepath.Join(t.TempDir(), "a", "b")
	openTest(t, dir, Options{})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("mode = %v, want 0700", got)
	}
}

func TestOpenErrorMentionsDir(t *testing.T) {
	badgerOnly(t, "a storage directory")
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(file, Options{})
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("Open(file) error = %v, want one naming %s", err, file)
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestOpenTwiceFailsOnLock(t *testing.T) {
	badgerOnly(t, "the directory lock (several nodes may open one PostgreSQL database)")
	dir := t.TempDir()
	openTest(t, dir, Options{})
	if s, err := Open(testStorage(t, dir), Options{}); err == nil {
		s.Close()
		t.Fatal("second Open of the same dir succeeded")
	}
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(testStorage(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(txn kvTxn) error {
		item, err := txn.Get(keySchema)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if !bytes.Equal(v, []byte{schemaVersion}) {
			t.Errorf("schema = %v, want %d", v, schemaVersion)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A database from a newer layout is refused.
	if err := s.db.Update(func(txn kvTxn) error { return txn.Set(keySchema, []byte{schemaVersion + 1}) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(testStorage(t, dir), Options{}); err == nil {
		s.Close()
		t.Fatal("Open accepted a newer schema version")
	} else if !strings.Contains(err.Error(), "schema version") {
		t.Errorf("error = %v, want it to mention the schema version", err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	s, err := Open(testStorage(t, t.TempDir()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := &User{Username: "alice"}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	sess := Session{ID: SessionID{1}, UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateSession(&sess); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.TouchSession(sess.ID, time.Now()) // must not panic

	calls := map[string]func() error{
		"CreateUser":     func() error { return s.CreateUser(&User{Username: "bob"}) },
		"User":           func() error { _, err := s.User(u.ID); return err },
		"UserByUsername": func() error { _, err := s.UserByUsername("alice"); return err },
		"UserByEmail":    func() error { _, err := s.UserByEmail("a@x"); return err },
		"UpdateUser": func() error {
			_, err := s.UpdateUser(u.ID, func(*User) error { return nil })
			return err
		},
		"DeleteUser":         func() error { return s.DeleteUser(u.ID) },
		"ListUsers":          func() error { _, _, err := s.ListUsers("", 0); return err },
		"CountUsers":         func() error { _, err := s.CountUsers(); return err },
		"CreateGroup":        func() error { return s.CreateGroup(&Group{Name: "g"}) },
		"EnsureGroups":       func() error { return s.EnsureGroups([]string{"g"}) },
		"Group":              func() error { _, err := s.Group("g"); return err },
		"ListGroups":         func() error { _, err := s.ListGroups(); return err },
		"PutAppAccess":       func() error { return s.PutAppAccess(&AppAccess{App: "a"}) },
		"AppAccess":          func() error { _, err := s.AppAccess("a"); return err },
		"CreateSession":      func() error { return s.CreateSession(&Session{UserID: "x", ExpiresAt: time.Now().Add(time.Hour)}) },
		"Session":            func() error { _, err := s.Session(sess.ID); return err },
		"Session(uncached)":  func() error { _, err := s.Session(SessionID{9}); return err },
		"DeleteSession":      func() error { return s.DeleteSession(sess.ID) },
		"UserSessions":       func() error { _, err := s.UserSessions(u.ID); return err },
		"DeleteUserSessions": func() error { _, err := s.DeleteUserSessions(u.ID); return err },
		"Flush":              s.Flush,
		"PutToken":           func() error { return s.PutToken(&Token{Kind: "k", ExpiresAt: time.Now().Add(time.Hour)}) },
		"ConsumeToken":       func() error { _, err := s.ConsumeToken("k", [32]byte{}); return err },
		"DeleteTokens":       func() error { return s.DeleteTokens("k") },
		"Setting":            func() error { var v int; return s.Setting("k", &v) },
		"PutSetting":         func() error { return s.PutSetting("k", 1) },
		"AppendAudit":        func() error { return s.AppendAudit(&Event{Action: "x"}) },
		"ListAudit":          func() error { _, _, err := s.ListAudit(AuditFilter{}, "", 0); return err },
		"UpdateGroup": func() error {
			_, err := s.UpdateGroup("g", func(*Group) error { return nil })
			return err
		},
		"RenameGroup":       func() error { return s.RenameGroup("g", "h") },
		"DeleteGroup":       func() error { return s.DeleteGroup("g") },
		"GroupMembers":      func() error { _, err := s.GroupMembers("g"); return err },
		"GroupMemberCounts": func() error { _, err := s.GroupMemberCounts(); return err },
		"SearchUsers":       func() error { _, _, err := s.SearchUsers(UserFilter{}, "", 0); return err },
		"UsersWithRole":     func() error { _, err := s.UsersWithRole("user"); return err },
		"CreateRole":        func() error { return s.CreateRole(&Role{Name: "r"}) },
		"Role":              func() error { _, err := s.Role("r"); return err },
		"ListRoles":         func() error { _, err := s.ListRoles(); return err },
		"UpdateRole": func() error {
			_, err := s.UpdateRole("r", func(*Role) error { return nil })
			return err
		},
		"DeleteRole":    func() error { return s.DeleteRole("r") },
		"ListAppAccess": func() error { _, err := s.ListAppAccess(); return err },
		"DeleteUserSessionsExcept": func() error {
			_, err := s.DeleteUserSessionsExcept(u.ID, sess.ID)
			return err
		},
		"ListTokens":       func() error { _, err := s.ListTokens("k"); return err },
		"DeleteToken":      func() error { return s.DeleteToken("k", [32]byte{}) },
		"DeleteUserTokens": func() error { _, err := s.DeleteUserTokens("k", u.ID); return err },
		"PruneAudit":       func() error { _, err := s.PruneAudit(time.Now()); return err },
		"AddFailure":       func() error { _, _, err := s.AddFailure("k", time.Minute, time.Now()); return err },
		"Failures":         func() error { _, err := s.Failures("k", time.Now()); return err },
		"ClearFailures":    func() error { return s.ClearFailures("k") },
		"PutLock":          func() error { return s.PutLock("k", time.Now().Add(time.Hour)) },
		"Lock":             func() error { _, _, err := s.Lock("k", time.Now()); return err },
		"ClearLock":        func() error { return s.ClearLock("k") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// TestReopen checks that everything survives Close and Open of the same
// directory.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	s, err := Open(testStorage(t, dir), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := &User{Username: "alice", Email: "Alice@Example.com", Groups: []string{"b", "a"}}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(&Group{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAppAccess(&AppAccess{App: "grafana", AllowGroups: []string{"ops"}}); err != nil {
		t.Fatal(err)
	}
	sess := Session{ID: SessionID{7}, UserID: u.ID, ExpiresAt: clk.Now().Add(time.Hour)}
	if err := s.CreateSession(&sess); err != nil {
		t.Fatal(err)
	}
	touched := clk.Now().Add(5 * time.Minute)
	s.TouchSession(sess.ID, touched)
	tok := &Token{Kind: "setup", Hash: [32]byte{3}, ExpiresAt: clk.Now().Add(time.Hour)}
	if err := s.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting("site", map[string]string{"title": "Home"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(&Event{Action: "login", Actor: "alice", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir, Options{Now: clk.Now})
	got, err := s.UserByEmail("alice@example.COM")
	if err != nil || got.ID != u.ID || got.GroupsHeader() != "a,b" {
		t.Fatalf("UserByEmail after reopen = %+v, %v", got, err)
	}
	if got, err := s.UserByUsername("ALICE"); err != nil || got.ID != u.ID {
		t.Fatalf("UserByUsername after reopen = %+v, %v", got, err)
	}
	if _, err := s.Group("OPS"); err != nil {
		t.Fatalf("Group after reopen: %v", err)
	}
	if a, err := s.AppAccess("grafana"); err != nil || len(a.AllowGroups) != 1 {
		t.Fatalf("AppAccess after reopen = %+v, %v", a, err)
	}
	gs, err := s.Session(sess.ID)
	if err != nil {
		t.Fatalf("Session after reopen: %v", err)
	}
	if !gs.LastSeen.Equal(touched) {
		t.Errorf("LastSeen after reopen = %v, want %v (flushed at Close)", gs.LastSeen, touched)
	}
	if list, err := s.UserSessions(u.ID); err != nil || len(list) != 1 {
		t.Errorf("UserSessions after reopen = %v, %v", list, err)
	}
	if got, err := s.ConsumeToken("setup", tok.Hash); err != nil || got.Kind != "setup" {
		t.Errorf("ConsumeToken after reopen = %+v, %v", got, err)
	}
	var site map[string]string
	if err := s.Setting("site", &site); err != nil || site["title"] != "Home" {
		t.Errorf("Setting after reopen = %v, %v", site, err)
	}
	if evs, _, err := s.ListAudit(AuditFilter{}, "", 0); err != nil || len(evs) != 1 || evs[0].Action != "login" {
		t.Errorf("ListAudit after reopen = %v, %v", evs, err)
	}
}

func TestBadgerLogsRoutedAtWarn(t *testing.T) {
	badgerOnly(t, "Badger's logs")
	var buf bytes.Buffer
	l := badgerLogger{slog.New(slog.NewTextHandler(&buf, nil))}
	l.Infof("info %d", 1)
	l.Debugf("debug %d", 2)
	l.Warningf("warn %d\n", 3)
	l.Errorf("error %d\n", 4)
	out := buf.String()
	for _, want := range []string{`level=WARN msg="warn 3"`, `level=ERROR msg="error 4"`, "component=badger"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output %q lacks %q", out, want)
		}
	}
	for _, unwanted := range []string{"info 1", "debug 2"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("log output %q contains %q", out, unwanted)
		}
	}
}

func TestTTLFor(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		end  time.Time
		want time.Duration
	}{
		{now.Add(-time.Second), 0},
		{now, 0},
		{now.Add(time.Millisecond), time.Second},
		{now.Add(time.Second), 2 * time.Second},
		{now.Add(90 * time.Minute), 90*time.Minute + time.Second},
	} {
		if got := ttlFor(tc.end, now); got != tc.want {
			t.Errorf("ttlFor(now+%v) = %v, want %v", tc.end.Sub(now), got, tc.want)
		}
	}
}
