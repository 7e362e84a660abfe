package store

import (
	"errors"
	"slices"
	"testing"
)

func TestAppDefs(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(testStorage(t, dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A stale access record of an earlier app of the same name is replaced.
	if err := s.PutAppAccess(&AppAccess{App: "wiki", Operators: []string{"mallory"}}); err != nil {
		t.Fatal(err)
	}
	a := &App{Name: "wiki", Title: "Wiki", OIDC: &AppOIDC{RedirectURIs: []string{"https://wiki.example.com/cb"}, SecretMAC: []byte{1, 2, 3}}}
	if err := s.CreateApp(a, &AppAccess{App: "wiki", AllowGroups: []string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateApp(&App{Name: "wiki"}, &AppAccess{App: "wiki"}); !errors.Is(err, ErrConflict) {
		t.Errorf("second CreateApp = %v, want ErrConflict", err)
	}
	if err := s.CreateApp(&App{Name: "x"}, &AppAccess{App: "y"}); err == nil {
		t.Error("CreateApp with an access record of another app succeeded")
	}
	if _, err := s.UpdateAppDef("wiki", func(a *App) error { a.OIDC.SecretMAC = []byte{4}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAppDef("nope", func(*App) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateAppDef(nope) = %v, want ErrNotFound", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	list, err := s.ListAppDefs()
	if err != nil || len(list) != 1 || list[0].Name != "wiki" || !slices.Equal(list[0].OIDC.SecretMAC, []byte{4}) || list[0].CreatedAt.IsZero() {
		t.Fatalf("ListAppDefs after reopening = %+v, %v", list, err)
	}
	acc, err := s.AppAccess("wiki")
	if err != nil || len(acc.Operators) != 0 || !slices.Equal(acc.AllowGroups, []string{"staff"}) {
		t.Errorf("AppAccess = %+v, %v, want the new app's rules", acc, err)
	}
	if err := s.DeleteApp("wiki"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp("wiki"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteApp = %v, want ErrNotFound", err)
	}
	if _, err := s.AppAccess("wiki"); !errors.Is(err, ErrNotFound) {
		t.Errorf("access after DeleteApp = %v, want ErrNotFound", err)
	}
	if _, err := s.AppDef("wiki"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppDef after DeleteApp = %v, want ErrNotFound", err)
	}
}
