package caddymodule

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

var ownerLinkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/owner-login/[A-Za-z0-9_-]{43}`)

// TestOwnerLoginCLI: `caddy gatehouse owner-login` prints a one-time link
// that signs an owner with a (lost) authenticator app in, once; a
// non-owner is refused with the reason; both steps are in the audit log.
func TestOwnerLoginCLI(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	addr := "127.0.0.1:" + strconv.Itoa(h.admin)
	h.addUser("olga", ownerPW, "owner")
	h.addUser("bob", bobPW, "user")

	api := func(c *http.Client, method, path, body string) (int, []byte) {
		t.Helper()
		resp, b := do(t, c, method, h.portalURL(path), strings.NewReader(body), jsonAPI)
		return resp.StatusCode, b
	}

	// olga turns on an authenticator app, then loses it: her password
	// alone no longer signs her in.
	setup := h.client()
	h.apiLogin(setup, "olga", ownerPW)
	_, b := api(setup, "POST", "/api/v1/me/totp", "")
	var enr struct{ Secret string }
	if err := json.Unmarshal(b, &enr); err != nil || enr.Secret == "" {
		t.Fatalf("begin TOTP: %s", b)
	}
	code, err := totp.GenerateCodeCustom(enr.Secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if got, b := api(setup, "POST", "/api/v1/me/totp/confirm", `{"code":"`+code+`"}`); got != 200 {
		t.Fatalf("confirm TOTP: %d %s", got, b)
	}
	if got, b := api(h.client(), "POST", "/api/v1/login", `{"username":"olga","password":"`+ownerPW+`"}`); got != 200 ||
		!strings.Contains(string(b), `"second_factor_required":true`) {
		t.Fatalf("password login: %d %s", got, b)
	}

	// Refusals carry the reason.
	refused := []struct {
		name string
		args []string
		want string
	}{
		{"not an owner", []string{"--username", "bob"}, "bob is not an owner"},
		{"unknown user", []string{"--username", "nobody"}, "no user"},
	}
	for _, tc := range refused {
		out, err := runCommand(t, ownerLoginCommand(), "", append([]string{"--address", addr}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || ownerLinkRE.MatchString(out) {
			t.Errorf("%s: err %v, output %q; want an error with %q and no link", tc.name, err, out, tc.want)
		}
	}

	// The link: no --username means the first owner.
	before := time.Now()
	out, err := runCommand(t, ownerLoginCommand(), "", "--address", addr)
	if err != nil {
		t.Fatalf("owner-login: %v\n%s", err, out)
	}
	link := ownerLinkRE.FindString(out)
	if link == "" || !strings.HasPrefix(link, h.portalURL("/owner-login/")) {
		t.Fatalf("no link in the output:\n%s", out)
	}
	m := regexp.MustCompile(`expires at (\S+) \(in [^)]+\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no expiry in the output:\n%s", out)
	}
	if exp, err := time.Parse(time.RFC3339, m[1]); err != nil || exp.Before(before.Add(14*time.Minute)) || exp.After(time.Now().Add(15*time.Minute)) {
		t.Errorf("expiry %q (%v), want about 15 minutes from now", m[1], err)
	}

	br := h.client()
	resp, page := do(t, br, "GET", link, nil, browser)
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Sign in as olga") {
		t.Fatalf("link page: %d\n%s", resp.StatusCode, page)
	}
	body, hdr := formBody()
	resp, page = do(t, br, "POST", link, body, hdr)
	if to := formTarget(resp, page); resp.StatusCode != http.StatusSeeOther || to != "/" {
		t.Fatalf("use the link: %d → %q\n%s", resp.StatusCode, to, page)
	}
	if resp, _ := do(t, br, "GET", h.portalURL("/"), nil, browser); resp.StatusCode != 200 {
		t.Fatalf("portal home after the link: %d", resp.StatusCode)
	}
	got, b := api(br, "GET", "/api/v1/me", "")
	if got != 200 || !strings.Contains(string(b), `"username":"olga"`) {
		t.Fatalf("me after the link: %d %s", got, b)
	}

	// Single use, from any browser.
	other := h.client()
	body, hdr = formBody()
	if resp, _ := do(t, other, "POST", link, body, hdr); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("second use: %d, want 4xx", resp.StatusCode)
	}
	if got, _ := api(other, "GET", "/api/v1/me", ""); got != 401 {
		t.Errorf("second use signed in: %d", got)
	}

	// Counted: one sign-in with the link, one refused.
	samples, _ := scrapeMetrics(t, h)
	for series, want := range map[string]float64{
		`gatehouse_sign_ins_total{method="owner_login",result="success"}`: 1,
		`gatehouse_sign_ins_total{method="owner_login",result="failure"}`: 1,
	} {
		if got := samples[series]; got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	// The audit log, read by the owner the link signed in.
	got, b = api(br, "GET", "/api/v1/audit?action=owner_login.", "")
	if got != 200 {
		t.Fatalf("audit: %d %s", got, b)
	}
	var audit struct {
		Items []struct{ Action, Actor, Resource, Outcome string }
	}
	if err := json.Unmarshal(b, &audit); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"owner_login.create cli user:olga success": false, "owner_login.use olga user:olga success": false}
	for _, e := range audit.Items {
		k := e.Action + " " + e.Actor + " " + e.Resource + " " + e.Outcome
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("audit lacks %q: %s", k, b)
		}
	}
}
