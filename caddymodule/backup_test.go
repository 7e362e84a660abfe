package caddymodule

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/store"
)

func TestCLIBackupRestore(t *testing.T) {
	dirStorageOnly(t)
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	addr := "127.0.0.1:" + strconv.Itoa(h.admin)
	h.addUser("alice", alicePW, "owner", "admins")
	h.addUser("bob", bobPW, "user", "ops")

	file := filepath.Join(t.TempDir(), "gatehouse.backup")
	out, err := runCommand(t, backupCommand(), "", file, "--address", addr)
	if err != nil || !strings.Contains(out, "wrote backup to "+file) || !strings.Contains(out, "secret.key") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Fatalf("backup file mode %v, size %d; want 0600, non-empty", fi.Mode().Perm(), fi.Size())
	}
	if !strings.Contains(out, "("+strconv.FormatInt(fi.Size(), 10)+" bytes)") {
		t.Errorf("backup output does not give the size %d:\n%s", fi.Size(), out)
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*.tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Restore needs --storage, and an empty directory.
	if _, err := runCommand(t, restoreCommand(), "", file); err == nil || !strings.Contains(err.Error(), "--storage") {
		t.Errorf("restore without --storage: %v", err)
	}
	if _, err := runCommand(t, restoreCommand(), "", file, "--storage", h.storage); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into the live storage: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	out, err = runCommand(t, restoreCommand(), "", file, "--storage", dir)
	if err != nil || !strings.Contains(out, "restored "+file+" into "+dir) || !strings.Contains(out, "secret.key") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct{ name, role, group string }{{"alice", "owner", "admins"}, {"bob", "user", "ops"}} {
		u, err := st.UserByUsername(tc.name)
		if err != nil {
			t.Errorf("restored %s: %v", tc.name, err)
			continue
		}
		if u.Role != tc.role || len(u.Groups) != 1 || u.Groups[0] != tc.group || u.PasswordHash == "" {
			t.Errorf("restored %s = %+v", tc.name, u)
		}
	}
}

func TestCLIBackupNeedsRunningGatehouse(t *testing.T) {
	// Nothing listens on this port: the error says so and no file is made.
	file := filepath.Join(t.TempDir(), "b")
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	if _, err := runCommand(t, backupCommand(), "", file, "--address", addr); err == nil {
		t.Fatal("backup without a server succeeded")
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("backup file made: %v", err)
	}
}
