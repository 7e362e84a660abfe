package caddymodule

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// harness runs a real Caddy in this process from a Caddyfile, on free
// loopback ports, in front of a real upstream that echoes the headers it
// receives.
type harness struct {
	t        *testing.T
	dir      string
	storage  string
	portal   int // the portal's port
	app      int // "whoami": every signed-in user
	admins   int // "admins-only": group admins
	admin    int // Caddy's admin API
	upstream *httptest.Server

	mu   sync.Mutex
	seen []http.Header // headers that reached the upstream
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir()}
	h.storage = filepath.Join(h.dir, "gatehouse")
	if os.Getenv(storageEnv) == "postgres" {
		h.storage = harnessDatabase(t)
	}
	ports := freePorts(t, 4)
	h.portal, h.app, h.admins, h.admin = ports[0], ports[1], ports[2], ports[3]
	h.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Clone())
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(h.upstream.Close)
	t.Cleanup(func() { _ = caddy.Stop() })
	return h
}

// handedOut remembers every port given to a test in this process, so two
// picks never collide even after the first listener closed.
var handedOut sync.Map

// freePorts returns n distinct free ports, never one handed out before.
// They are drawn at random below the kernel's ephemeral range (32768 and
// up on Linux, 49152 and up elsewhere): a port the kernel picked for ":0"
// and we then closed could be taken, before Caddy bound it, as the source
// port of some other test package's outgoing connection ("address already
// in use" under `go test ./...`). A port below that range is only ever
// taken by a listener, which the test bind below would see.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries == 10_000 {
			t.Fatalf("no free port in 20000-31999 after %d tries", tries)
		}
		port := 20000 + mrand.IntN(12000)
		if _, dup := handedOut.LoadOrStore(port, true); dup {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue // someone listens there
		}
		l.Close()
		out = append(out, port)
	}
	return out
}

func freePort(t *testing.T) int { return freePorts(t, 1)[0] }

// caddyfile is the test config; extraGlobal goes into the gatehouse block,
// extraSites after the sites.
func (h *harness) caddyfile(extraGlobal, extraSites string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	storage file_system %[2]s/caddy
	auto_https off
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	log {
		output file %[2]s/caddy.log
		format json
		level INFO
	}
	gatehouse {
		storage %[3]s
		portal_url http://127.0.0.1:%[4]d
		%[8]s
	}
}

http://127.0.0.1:%[4]d {
	gatehouse_portal
}

http://127.0.0.1:%[5]d {
	gatehouse whoami {
		title "Who am I"
	}
	reverse_proxy %[7]s
}

http://127.0.0.1:%[6]d {
	gatehouse admins-only {
		allow_groups admins
	}
	reverse_proxy %[7]s
}
%[9]s
`, h.admin, h.dir, h.storage, h.portal, h.app, h.admins, strings.TrimPrefix(h.upstream.URL, "http://"), extraGlobal, extraSites)
}

// adapt turns a Caddyfile into Caddy JSON.
func adapt(t *testing.T, caddyfile string) []byte {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	return cfg
}

// start loads the Caddyfile into the in-process Caddy (a reload when one
// is already running).
func (h *harness) start(caddyfile string) {
	h.t.Helper()
	if err := caddy.Load(adapt(h.t, caddyfile), true); err != nil {
		h.t.Fatalf("load config: %v", err)
	}
	h.waitServing()
}

// waitServing waits until the portal answers: after a reload, a request
// that reaches the old server as it closes is reset, which is the reload's
// doing, not the test's.
func (h *harness) waitServing() {
	h.t.Helper()
	c := &http.Client{Transport: noKeepAlive, Timeout: 2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var err error
	for range 50 {
		var resp *http.Response
		if resp, err = c.Get(h.portalURL("/login")); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("the portal does not answer after loading the config: %v", err)
}

func (h *harness) portalURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", h.portal, path)
}
func (h *harness) appURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", h.app, path)
}
func (h *harness) adminsURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", h.admins, path)
}

// client is a browser-like client: a cookie jar, no redirect following.
// Each client comes from its own address: Caddy trusts the loopback proxy
// of the test config, and the client sends X-Forwarded-For with an address
// of its own, so per-IP throttling sees separate people.
func (h *harness) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     forwardedFor{ip: fmt.Sprintf("10.%d.%d.%d", b[0], b[1], b[2]), next: noKeepAlive},
	}
}

// forwardedFor adds X-Forwarded-For: ip to every request, as a reverse
// proxy in front of Caddy would.
type forwardedFor struct {
	ip   string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.next.RoundTrip(r)
}

// noKeepAlive opens a connection per request, so a config reload (which
// closes the old server's idle connections) never fails a request.
var noKeepAlive = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	return t
}()

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, u string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var (
	browser = map[string]string{"Accept": "text/html,application/xhtml+xml"}
	jsonAPI = map[string]string{"Accept": "application/json", "Content-Type": "application/json"}
)

// apiLogin signs c in through POST /api/v1/login.
func (h *harness) apiLogin(c *http.Client, user, pw string) *http.Response {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"username": user, "password": pw})
	resp, b := do(h.t, c, "POST", h.portalURL("/api/v1/login"), bytes.NewReader(body), jsonAPI)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("login %s: %d %s", user, resp.StatusCode, b)
	}
	return resp
}

// addUser creates a user through the admin API (the path the CLI takes).
func (h *harness) addUser(username, pw, role string, groups ...string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"username": username, "password": pw, "role": role, "groups": groups,
		"email": username + "@example.com", "full_name": strings.ToUpper(username[:1]) + username[1:]})
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/gatehouse/users", h.admin), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("add user %s: %d %s", username, resp.StatusCode, b)
	}
}

// lastSeen returns the headers of the latest request that reached the
// upstream, and how many did.
func (h *harness) lastSeen() (http.Header, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		return nil, 0
	}
	return h.seen[len(h.seen)-1], len(h.seen)
}

func (h *harness) upstreamHits() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// setupLink finds the first-owner link in Caddy's JSON log.
func (h *harness) setupLink() string {
	h.t.Helper()
	var link string
	f, err := os.Open(filepath.Join(h.dir, "caddy.log"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if u, ok := line["setup_url"].(string); ok {
			if line["level"] != "warn" {
				h.t.Errorf("setup link logged at %v, want warn", line["level"])
			}
			link = u
		}
	}
	if link == "" {
		h.t.Fatal("no setup_url in the log")
	}
	return link
}

func formBody(kv ...string) (io.Reader, map[string]string) {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
}

var refreshRE = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)

// formTarget is where a form's answer sends the browser: the Location of a
// 303, or the refresh target of the continue page the portal uses for other
// origins ("" for anything else).
func formTarget(resp *http.Response, body []byte) string {
	switch resp.StatusCode {
	case http.StatusSeeOther:
		return resp.Header.Get("Location")
	case http.StatusOK:
		if m := refreshRE.FindSubmatch(body); m != nil {
			return html.UnescapeString(string(m[1]))
		}
	}
	return ""
}

// smtpBlock is the global smtp block that sends through smtp.
func smtpBlock(smtp *mailtest.Server) string {
	return fmt.Sprintf(`smtp {
			host 127.0.0.1
			port %d
			from "Gatehouse <gatehouse@example.com>"
			tls none
		}`, smtp.Port())
}

// startWithMail starts the default sites with an smtp block sending to a
// new in-process SMTP server, and returns that server.
func (h *harness) startWithMail() *mailtest.Server {
	smtp := mailtest.NewServer(h.t)
	h.start(h.caddyfile(smtpBlock(smtp), ""))
	return smtp
}
