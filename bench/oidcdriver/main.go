// Command oidcdriver is the load generator of bench/oidc: it runs one kind
// of OpenID Connect request from many connections for a while against
// Gatehouse's provider, as a relying party with a signed-in user, and
// prints what it measured as one JSON line.
//
//	oidcdriver -issuer http://127.0.0.1:8080 -client-id app -client-secret S \
//	    -redirect https://app.example.com/cb -cookie 'gatehouse_session=…' \
//	    -op flow -c 16 -d 10s
//
// Operations:
//
//	flow      a full authorization code flow: GET /authorize with the
//	          session cookie (state, nonce, PKCE S256) → the code in the
//	          redirect → POST the token endpoint (code, verifier, client
//	          secret); one operation is both requests;
//	exchange  code → token exchanges only: codes are minted ahead by
//	          authorization requests (not timed) in batches of -batch, then
//	          exchanged by all connections at once (timed); a batch is
//	          exchanged within -max-age of its first code (the provider's
//	          codes live 60 s), and batches repeat until -d of exchanging;
//	userinfo  GET the UserInfo endpoint with an access token (one per
//	          connection, from one flow each before the clock starts).
//
// Every answer is checked (a code in the redirect, access and ID tokens in
// the token response, the user's sub in UserInfo): a wrong answer is an
// error, and any error makes the exit status 1, so a fast failure is never
// reported as speed. -phc SECRET only prints SECRET's argon2id PHC string
// (Gatehouse's default parameters), for a client_secret_hash; -argon2-ms
// only prints what one such hash costs here, in milliseconds. -auth basic sends the client secret in the
// Authorization header (client_secret_basic), -auth post in the form
// (client_secret_post).
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/password"
)

type result struct {
	Op      string  `json:"op"`
	Ops     int64   `json:"ops"`
	Errors  int64   `json:"errors"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	First   string  `json:"first_error,omitempty"`
}

// rp is the relying party: the client's settings and the provider's
// endpoints from discovery.
type rp struct {
	hc                         *http.Client
	clientID, secret, redirect string
	auth                       string
	cookie                     string
	authz, token, userinfo     string
}

func main() {
	issuer := flag.String("issuer", "", "the provider's issuer (portal_url) (required)")
	clientID := flag.String("client-id", "", "client id (required)")
	secret := flag.String("client-secret", "", "client secret (required)")
	redirect := flag.String("redirect", "", "a registered redirect URI (required)")
	auth := flag.String("auth", "basic", "client authentication: basic or post")
	cookie := flag.String("cookie", "", "the signed-in user's session cookie, name=value (required)")
	op := flag.String("op", "flow", "flow, exchange or userinfo")
	conns := flag.Int("c", 16, "connections")
	dur := flag.Duration("d", 10*time.Second, "how long to run (for exchange: how long to exchange)")
	batch := flag.Int("batch", 2000, "codes minted ahead per exchange batch")
	maxAge := flag.Duration("max-age", 40*time.Second, "exchange a batch within this long of its first code")
	phc := flag.String("phc", "", "print this secret's argon2id PHC string and exit")
	argonCost := flag.Bool("argon2-ms", false, "print the CPU milliseconds of one argon2id hash at Gatehouse's defaults and exit")
	flag.Parse()
	if *argonCost {
		// The median CPU time of 5 (the process's user+system time, so
		// other load on the machine does not count): what one verify costs.
		cpu := func() time.Duration {
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				log.Fatal(err)
			}
			return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		var ms []float64
		for range 5 {
			t0 := cpu()
			if _, err := password.Hash("x", password.DefaultParams()); err != nil {
				log.Fatal(err)
			}
			ms = append(ms, float64((cpu()-t0).Microseconds())/1000)
		}
		slices.Sort(ms)
		fmt.Printf("%.1f\n", ms[2])
		return
	}
	if *phc != "" {
		h, err := password.Hash(*phc, password.DefaultParams())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(h)
		return
	}
	if *issuer == "" || *clientID == "" || *secret == "" || *redirect == "" || *cookie == "" {
		flag.Usage()
		os.Exit(2)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = *conns
	tr.MaxConnsPerHost = *conns
	r := &rp{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		clientID: *clientID, secret: *secret, redirect: *redirect, auth: *auth, cookie: *cookie}
	if err := r.discover(*issuer); err != nil {
		log.Fatal(err)
	}

	var res result
	switch *op {
	case "flow":
		res = run(*conns, *dur, func(int) error {
			code, verifier, err := r.code()
			if err != nil {
				return err
			}
			_, err = r.exchange(code, verifier)
			return err
		})
	case "userinfo":
		tokens := make([]string, *conns)
		for i := range tokens {
			code, verifier, err := r.code()
			if err == nil {
				tokens[i], err = r.exchange(code, verifier)
			}
			if err != nil {
				log.Fatalf("access token: %v", err)
			}
		}
		sub, err := r.userInfo(tokens[0])
		if err != nil {
			log.Fatal(err)
		}
		res = run(*conns, *dur, func(c int) error {
			s, err := r.userInfo(tokens[c])
			if err == nil && s != sub {
				err = fmt.Errorf("userinfo sub %q, before %q", s, sub)
			}
			return err
		})
	case "exchange":
		res = exchanges(r, *conns, *dur, *batch, *maxAge)
	default:
		log.Fatalf("unknown -op %q", *op)
	}
	res.Op = *op
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if res.Errors > 0 || res.Ops == 0 {
		os.Exit(1)
	}
}

// discover reads the discovery document.
func (r *rp) discover(issuer string) error {
	resp, err := r.hc.Get(strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration")
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	var d struct {
		Issuer   string `json:"issuer"`
		Authz    string `json:"authorization_endpoint"`
		Token    string `json:"token_endpoint"`
		UserInfo string `json:"userinfo_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: %d %v", resp.StatusCode, err)
	}
	if d.Issuer != issuer || d.Authz == "" || d.Token == "" || d.UserInfo == "" {
		return fmt.Errorf("discovery: %+v", d)
	}
	r.authz, r.token, r.userinfo = d.Authz, d.Token, d.UserInfo
	return nil
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// code sends an authorization request with the session cookie, follows
// the portal's redirects, and returns the code of the redirect to the app
// and the PKCE verifier.
func (r *rp) code() (code, verifier string, err error) {
	state, verifier := random(), random()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirect},
		"scope": {"openid profile email groups"}, "state": {state}, "nonce": {random()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	// The browser's way: /authorize, then the portal's own steps (the
	// session check), until a redirect leaves the provider.
	u := r.authz + "?" + q.Encode()
	var loc *url.URL
	for hop := 0; ; hop++ {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Cookie", r.cookie)
		req.Header.Set("Accept", "text/html")
		resp, err := r.hc.Do(req)
		if err != nil {
			return "", "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if loc, err = req.URL.Parse(resp.Header.Get("Location")); err != nil || resp.StatusCode/100 != 3 || hop == 5 {
			return "", "", fmt.Errorf("authorize: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if loc.Host != req.URL.Host {
			break
		}
		u = loc.String()
	}
	if !strings.HasPrefix(loc.String(), r.redirect+"?") {
		return "", "", fmt.Errorf("authorize: redirect to %s", loc)
	}
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return "", "", fmt.Errorf("authorize: redirect %s", loc)
	}
	return loc.Query().Get("code"), verifier, nil
}

// exchange trades a code for tokens and returns the access token.
func (r *rp) exchange(code, verifier string) (string, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect}, "code_verifier": {verifier}}
	if r.auth == "post" {
		form.Set("client_id", r.clientID)
		form.Set("client_secret", r.secret)
	}
	req, _ := http.NewRequest("POST", r.token, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r.auth != "post" {
		req.SetBasicAuth(url.QueryEscape(r.clientID), url.QueryEscape(r.secret))
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
		TokenType   string `json:"token_type"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &t) != nil || t.AccessToken == "" || t.IDToken == "" ||
		!strings.EqualFold(t.TokenType, "bearer") {
		return "", fmt.Errorf("token: %d %.200s", resp.StatusCode, body)
	}
	return t.AccessToken, nil
}

// userInfo calls UserInfo and returns the sub.
func (r *rp) userInfo(token string) (string, error) {
	req, _ := http.NewRequest("GET", r.userinfo, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var u struct {
		Sub string `json:"sub"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &u) != nil || u.Sub == "" {
		return "", fmt.Errorf("userinfo: %d %.200s", resp.StatusCode, body)
	}
	return u.Sub, nil
}

// tally gathers operations, errors and latencies from many goroutines.
type tally struct {
	ops, errs atomic.Int64
	first     atomic.Value
	mu        sync.Mutex
	lat       []time.Duration
}

func (t *tally) fail(err error) {
	t.errs.Add(1)
	t.first.CompareAndSwap(nil, err.Error())
}

func (t *tally) add(l []time.Duration) {
	t.mu.Lock()
	t.lat = append(t.lat, l...)
	t.mu.Unlock()
	t.ops.Add(int64(len(l)))
}

func (t *tally) result(secs float64) result {
	slices.Sort(t.lat)
	pct := func(p float64) float64 {
		if len(t.lat) == 0 {
			return 0
		}
		return float64(t.lat[min(len(t.lat)-1, int(p*float64(len(t.lat))))].Microseconds()) / 1000
	}
	r := result{Ops: t.ops.Load(), Errors: t.errs.Load(), Seconds: secs, Rate: float64(t.ops.Load()) / secs, P50ms: pct(0.50), P99ms: pct(0.99)}
	if e, ok := t.first.Load().(string); ok {
		r.First = e
	}
	return r
}

// run calls op from conns goroutines until dur has passed.
func run(conns int, dur time.Duration, op func(c int) error) result {
	var t tally
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := op(c); err != nil {
					t.fail(err)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			t.add(lat)
		}()
	}
	wg.Wait()
	return t.result(time.Since(start).Seconds())
}

// exchanges mints batches of codes (untimed) and exchanges each batch
// from conns goroutines (timed), until dur of exchanging.
func exchanges(r *rp, conns int, dur time.Duration, batch int, maxAge time.Duration) result {
	type minted struct{ code, verifier string }
	var t tally
	var spent time.Duration
	for spent < dur {
		// Mint: conns goroutines until batch codes or half of maxAge.
		first := time.Now()
		codes := make(chan minted, batch)
		var n atomic.Int64
		var wg sync.WaitGroup
		for range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n.Add(1) <= int64(batch) && time.Since(first) < maxAge/2 {
					code, verifier, err := r.code()
					if err != nil {
						t.fail(err)
						return
					}
					codes <- minted{code, verifier}
				}
			}()
		}
		wg.Wait()
		close(codes)
		if len(codes) == 0 {
			t.fail(errors.New("no code minted"))
			break
		}
		// Exchange them all, stopping at maxAge from the first code or
		// when dur of exchanging is reached.
		start := time.Now()
		stop := first.Add(maxAge)
		if end := start.Add(dur - spent); end.Before(stop) {
			stop = end
		}
		for c := 0; c < conns; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				for m := range codes {
					if time.Now().After(stop) {
						break
					}
					t0 := time.Now()
					if _, err := r.exchange(m.code, m.verifier); err != nil {
						t.fail(err)
						continue
					}
					lat = append(lat, time.Since(t0))
				}
				t.add(lat)
			}()
		}
		wg.Wait()
		spent += time.Since(start)
	}
	return t.result(spent.Seconds())
}
