package caddymodule

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
)

// TestConfigPlaceholders: the storage directory and the secrets of the
// global block take Caddy placeholders such as {env.X}, expanded when the
// config loads: the database is made in the directory the variable names
// (not in one literally named "{env.…}"), and the SMTP server is reached
// and logged in to with the expanded host, user and password. A storage
// placeholder that expands to nothing refuses to load.
func TestConfigPlaceholders(t *testing.T) {
	t.Chdir(t.TempDir()) // a literal "{env.…}" directory would appear here
	db := filepath.Join(t.TempDir(), "db")
	t.Setenv("GATEHOUSE_TEST_DIR", db)
	t.Setenv("GATEHOUSE_TEST_SMTP_HOST", "127.0.0.1")
	t.Setenv("GATEHOUSE_TEST_SMTP_USER", "mailer")
	t.Setenv("GATEHOUSE_TEST_SMTP_PASSWORD", "s3cret-Pw")
	smtp := mailtest.NewServer(t, mailtest.WithAuth("mailer", "s3cret-Pw"))

	h := newHarness(t)
	h.storage = "{env.GATEHOUSE_TEST_DIR}"
	h.start(h.caddyfile(fmt.Sprintf(`smtp {
			host {env.GATEHOUSE_TEST_SMTP_HOST}
			port %d
			username {env.GATEHOUSE_TEST_SMTP_USER}
			password {env.GATEHOUSE_TEST_SMTP_PASSWORD}
			from "Gatehouse <gatehouse@example.com>"
			tls none
		}`, smtp.Port()), ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")

	for _, f := range []string{secretKeyFile, "MANIFEST"} {
		if _, err := os.Stat(filepath.Join(db, f)); err != nil {
			t.Errorf("the database is not in the directory of $GATEHOUSE_TEST_DIR: %v", err)
		}
	}
	if matches, _ := filepath.Glob("{*"); len(matches) > 0 {
		t.Errorf("a directory named after the placeholder was made: %v", matches)
	}

	resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/password/forgot"), strings.NewReader(`{"login":"alice"}`), jsonAPI)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", resp.StatusCode, b)
	}
	if msgs := smtp.Wait(t, 1, 10*time.Second); len(msgs) != 1 || msgs[0].To[0] != "alice@example.com" {
		t.Fatalf("messages = %+v (the server takes only the expanded password)", msgs)
	}

	t.Run("storage placeholder expanding to nothing", func(t *testing.T) {
		_ = caddy.Stop()
		h2 := newHarness(t)
		h2.storage = "{env.GATEHOUSE_TEST_UNSET}"
		err := caddy.Load(adapt(t, h2.caddyfile("", "")), true)
		if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_TEST_UNSET") {
			t.Errorf("load with an unset storage variable: %v, want a refusal naming it", err)
		}
	})
}
