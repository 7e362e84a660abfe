package caddymodule

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/slapdtest"
)

// directoryBlock is the global option's directory block for the example
// directory of srv; the bind password comes from the environment, as a
// placeholder.
func directoryBlock(t *testing.T, srv *slapdtest.Server, extra string) string {
	t.Setenv("GATEHOUSE_TEST_LDAP_PASSWORD", slapdtest.ReaderPassword)
	return fmt.Sprintf(`directory ldap {
			url %s
			bind_dn %s
			bind_password {env.GATEHOUSE_TEST_LDAP_PASSWORD}
			base_dn %s
			timeout 2s
			%s
		}`, srv.URL, slapdtest.ReaderDN, srv.Suffix, extra)
}

func jsonBody(v any) *strings.Reader {
	b, _ := json.Marshal(v)
	return strings.NewReader(string(b))
}

// TestDirectoryThroughCaddy drives the external directory end to end: a
// real slapd, a real Caddy, real clients.
func TestDirectoryThroughCaddy(t *testing.T) {
	ldap := slapdtest.Start(t, slapdtest.Options{LDIF: slapdtest.ExampleLDIF()})
	h := newHarness(t)
	h.start(h.caddyfile(directoryBlock(t, ldap, "auto_create\n\t\t\tsync_groups"), ""))
	h.addUser("olga", ownerPW, "owner")
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)

	// Sign-in with the directory password; the account is made, with the
	// directory's profile and groups, and the apps see them.
	alice := h.client()
	h.apiLogin(alice, "alice", "alice-pw")
	resp, b := do(t, alice, "GET", h.portalURL("/api/v1/me"), nil, jsonAPI)
	var mine struct{ User core.UserView }
	if err := json.Unmarshal(b, &mine); err != nil || resp.StatusCode != 200 {
		t.Fatalf("me: %d %s", resp.StatusCode, b)
	}
	me := mine.User
	if me.Source != "ldap" || me.Email != "alice@example.org" || me.FullName != "Alice Liddell" || me.Role != "user" {
		t.Errorf("alice: %+v", me)
	}
	resp, _ = do(t, alice, "GET", h.appURL("/"), nil, jsonAPI)
	if hdr, _ := h.lastSeen(); resp.StatusCode != 200 || hdr.Get("Remote-User") != "alice" || hdr.Get("Remote-Groups") != "devs,ops-team" {
		t.Errorf("app: %d, headers %v", resp.StatusCode, hdr)
	}

	t.Run("wrong password and injection", func(t *testing.T) {
		for _, login := range []string{"alice", "al*", "*)(|(uid=alice)", "*"} {
			resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), jsonBody(map[string]string{"username": login, "password": "bob-pw"}), jsonAPI)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("login %q with a wrong password: %d %s", login, resp.StatusCode, b)
			}
			resp, b = do(t, h.client(), "POST", h.portalURL("/api/v1/login"), jsonBody(map[string]string{"username": login, "password": "alice-pw"}), jsonAPI)
			if login != "alice" && resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("login %q with alice's password: %d %s", login, resp.StatusCode, b)
			}
		}
		resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), jsonBody(map[string]string{"username": "alice", "password": ""}), jsonAPI)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("empty password: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("password changes and reset links refused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			c      *http.Client
			path   string
			body   any
			status int
		}{
			{"own password change", alice, "/api/v1/me/password", map[string]string{"current_password": "alice-pw", "password": "N3w-Passw0rd-here"}, http.StatusConflict},
			{"admin sets it", owner, "/api/v1/users/alice/password", map[string]string{"password": "N3w-Passw0rd-here"}, http.StatusConflict},
			{"admin makes a reset link", owner, "/api/v1/users/alice/reset-link", map[string]string{}, http.StatusConflict},
		} {
			resp, b := do(t, tc.c, "POST", h.portalURL(tc.path), jsonBody(tc.body), jsonAPI)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), "managed by the external directory") {
				t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
			}
		}
		// The pages say so too, and offer no password form.
		resp, b := do(t, owner, "GET", h.portalURL("/admin/users/alice"), nil, browser)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "directory password") || strings.Contains(string(b), `action="/admin/users/`+me.ID+`/password"`) {
			t.Errorf("user page: %d", resp.StatusCode)
		}
		resp, b = do(t, alice, "GET", h.portalURL("/profile"), nil, browser)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "directory password") || strings.Contains(string(b), `action="/profile/password"`) {
			t.Errorf("profile page: %d", resp.StatusCode)
		}
		resp, b = do(t, owner, "GET", h.portalURL("/admin/users"), nil, browser)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `action="/admin/directory/sync"`) || !strings.Contains(string(b), ">Directory</span>") {
			t.Errorf("users page without the Synchronize button or the Directory badge: %d", resp.StatusCode)
		}
	})

	t.Run("sync disables the gone and ends their sessions", func(t *testing.T) {
		resp, b := do(t, alice, "POST", h.portalURL("/api/v1/directory/sync"), nil, jsonAPI)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("sync by a user: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, owner, "POST", h.portalURL("/api/v1/directory/sync"), nil, jsonAPI)
		var rep core.SyncReport
		if err := json.Unmarshal(b, &rep); err != nil || resp.StatusCode != 200 || rep.People != 3 || rep.Created != 2 {
			t.Fatalf("sync: %d %s", resp.StatusCode, b)
		}
		bob := h.client()
		h.apiLogin(bob, "bob", "bob-pw")
		if resp, _ := do(t, bob, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
			t.Fatalf("bob reaches the app: %d", resp.StatusCode)
		}
		ldap.Delete(t, "uid=bob,"+slapdtest.People)
		out, err := runCommand(t, directoryCommand(), "", "sync", "--address", "127.0.0.1:"+strconv.Itoa(h.admin))
		if err != nil || !strings.Contains(out, "1 disabled") {
			t.Fatalf("caddy gatehouse directory sync: %v\n%s", err, out)
		}
		if resp, _ := do(t, bob, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("bob's session after he left the directory: %d", resp.StatusCode)
		}
		resp, b = do(t, owner, "GET", h.portalURL("/api/v1/users/bob"), nil, jsonAPI)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"active":false`) {
			t.Errorf("bob after the sync: %d %s", resp.StatusCode, b)
		}
		resp, b = do(t, owner, "GET", h.portalURL("/api/v1/audit?action=directory.sync"), nil, jsonAPI)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "1 disabled") || !strings.Contains(string(b), `"cli"`) {
			t.Errorf("audit of the syncs: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("directory down", func(t *testing.T) {
		ldap.Stop()
		h.apiLogin(h.client(), "olga", ownerPW)
		resp, b := do(t, h.client(), "POST", h.portalURL("/api/v1/login"), jsonBody(map[string]string{"username": "alice", "password": "alice-pw"}), jsonAPI)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "directory") {
			t.Errorf("alice with the directory down: %d %s", resp.StatusCode, b)
		}
		form, hdr := formBody("username", "alice", "password", "alice-pw")
		c := h.client()
		resp, b = do(t, c, "POST", h.portalURL("/login"), form, hdr)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "directory that checks your password cannot be reached") {
			t.Errorf("login page with the directory down: %d", resp.StatusCode)
		}
		resp, b = do(t, owner, "POST", h.portalURL("/api/v1/directory/sync"), nil, jsonAPI)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("sync with the directory down: %d %s", resp.StatusCode, b)
		}
		// Sessions already made go on: the guard never asks the directory.
		if resp, _ := do(t, alice, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
			t.Errorf("alice's session with the directory down: %d", resp.StatusCode)
		}
	})
}

// TestDirectorySlowNeverBlocksLocal: a directory that accepts connections
// and never answers costs directory users the timeout, and the owner's
// sign-in and the guard nothing.
func TestDirectorySlowNeverBlocksLocal(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var (
		mu   sync.Mutex
		held []net.Conn
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // held open, never answered
			mu.Unlock()
		}
	}()
	h := newHarness(t)
	h.start(h.caddyfile(fmt.Sprintf(`directory ldap {
			url ldap://%s
			base_dn dc=example,dc=org
			timeout 3s
			auto_create
		}`, silent.Addr()), ""))
	h.addUser("olga", ownerPW, "owner")

	slow := make(chan int, 4)
	for range 4 {
		c := h.client()
		go func() {
			resp, err := c.Post(h.portalURL("/api/v1/login"), "application/json", jsonBody(map[string]string{"username": "alice", "password": "alice-pw"}))
			if err != nil {
				slow <- 0
				return
			}
			resp.Body.Close()
			slow <- resp.StatusCode
		}()
	}
	time.Sleep(200 * time.Millisecond) // the directory sign-ins are waiting
	start := time.Now()
	owner := h.client()
	h.apiLogin(owner, "olga", ownerPW)
	if resp, _ := do(t, owner, "GET", h.appURL("/"), nil, jsonAPI); resp.StatusCode != 200 {
		t.Errorf("the owner at the app: %d", resp.StatusCode)
	}
	local := time.Since(start)
	for range 4 {
		if code := <-slow; code != http.StatusServiceUnavailable {
			t.Errorf("a sign-in against the silent directory: %d, want 503", code)
		}
	}
	if local > 2*time.Second {
		t.Errorf("the owner's sign-in took %v while the directory hung", local)
	}
}

// TestDirectoryCaddyfile: the directory block's values are checked when
// the config loads; a bad one is refused with its line and the reason.
func TestDirectoryCaddyfile(t *testing.T) {
	base := func(body string) string {
		return "{\n\tgatehouse {\n\t\tportal_url https://auth.example.com\n\t\tdirectory ldap {\n" + body + "\t\t}\n\t}\n}\n"
	}
	good := "\t\t\turl ldaps://ad.example.com\n\t\t\tbind_dn cn=gatehouse,ou=system,dc=example,dc=com\n\t\t\tbind_password {env.LDAP_PASSWORD}\n\t\t\tbase_dn dc=example,dc=com\n"
	for _, tc := range []struct {
		name, body string
		want       string // "" for accepted; else in the error
		line       int
	}{
		{"minimal", good, "", 0},
		{"everything", good + "\t\t\tfilter (&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))\n\t\t\tusername_attribute sAMAccountName\n" +
			"\t\t\temail_attribute mail\n\t\t\tname_attribute displayName\n\t\t\tgroup_base_dn ou=groups,dc=example,dc=com\n\t\t\tgroup_filter (objectClass=group)\n" +
			"\t\t\tgroup_member_attribute member\n\t\t\tauto_create\n\t\t\tsync_groups\n\t\t\tsync_interval 1h\n\t\t\ttimeout 10s\n\t\t\tpage_size 1000\n\t\t\tca_file /etc/ssl/ad.pem\n", "", 0},
		{"placeholders", "\t\t\turl {env.LDAP_URL}\n\t\t\tbase_dn {env.LDAP_BASE}\n", "", 0},
		{"no url", "\t\t\tbase_dn dc=example,dc=com\n", "url is required", 4},
		{"http url", "\t\t\turl https://ldap.example.com\n\t\t\tbase_dn dc=x\n", "must be ldap://", 5},
		{"bad base dn", "\t\t\turl ldap://h\n\t\t\tbase_dn example.com\n", "base_dn", 6},
		{"bad filter", good + "\t\t\tfilter (&(objectClass=user)\n", "filter", 9},
		{"bad member attribute", good + "\t\t\tgroup_member_attribute members\n", "member, uniqueMember or memberUid", 9},
		{"start_tls with ldaps", good + "\t\t\tstart_tls\n", "start_tls", 4},
		{"sync too often", good + "\t\t\tsync_interval 10s\n", "at least 1m", 4},
		{"bind dn without password", "\t\t\turl ldap://h\n\t\t\tbase_dn dc=x\n\t\t\tbind_dn cn=reader,dc=x\n", "bind_password is required", 4},
		{"unknown option", good + "\t\t\tusername uid\n", "unknown subdirective", 9},
		{"flag with a value", good + "\t\t\tauto_create yes\n", "takes no value", 9},
		{"given twice", good + "\t\t\tbase_dn dc=y\n", "twice", 9},
		{"bad page size", good + "\t\t\tpage_size 0\n", "page_size", 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(base(tc.body)), map[string]any{"filename": "Caddyfile"})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Caddyfile:"+strconv.Itoa(tc.line)) {
				t.Errorf("error = %v, want %q at Caddyfile:%d", err, tc.want, tc.line)
			}
		})
	}
	t.Run("other directory kind", func(t *testing.T) {
		cf := "{\n\tgatehouse {\n\t\tportal_url https://auth.example.com\n\t\tdirectory scim {\n\t\t}\n\t}\n}\n"
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"}); err == nil || !strings.Contains(err.Error(), "only kind is ldap") {
			t.Errorf("error = %v", err)
		}
	})
}

// TestDirectoryPlaceholderAtLoad: a placeholder that names an unset
// variable in a required field refuses the config when it loads.
func TestDirectoryPlaceholderAtLoad(t *testing.T) {
	h := newHarness(t)
	cfg := adapt(t, h.caddyfile(`directory ldap {
			url {env.GATEHOUSE_TEST_UNSET_LDAP_URL}
			base_dn dc=example,dc=org
		}`, ""))
	err := caddy.Load(cfg, true)
	if err == nil || !strings.Contains(err.Error(), "url is required") {
		t.Errorf("load with an unset url variable: %v", err)
	}
}

// TestReadmeDirectoryExamplesAdapt: every Caddyfile example of the
// README's "External directory" section, as written there, adapts.
func TestReadmeDirectoryExamplesAdapt(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## External directory")
	end := strings.Index(text, "## Security defaults")
	if start < 0 || end < start {
		t.Fatal("README: no external directory section")
	}
	blocks := regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindAllStringSubmatch(text[start:end], -1)
	if len(blocks) < 6 {
		t.Fatalf("README: %d Caddyfile examples, want the overview, OpenLDAP, AD, another Gatehouse, JumpCloud and Okta", len(blocks))
	}
	for _, b := range blocks {
		cf := b[1]
		if !strings.HasPrefix(cf, "{") {
			cf = "{\n\tgatehouse {\n\t\tportal_url https://auth.example.com\n" + cf + "\t}\n}\n"
		}
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "README.md"}); err != nil {
			t.Errorf("README example does not adapt: %v\n%s", err, b[1])
		}
	}
}
