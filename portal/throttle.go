package portal

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/ratelimit"
)

// Per-client-IP throttling of the routes that check a secret: sign-in
// (password and second steps), "forgot password", reset and invitation
// links, first-owner setup and owner recovery links. It complements the
// per-account lockout (lockout.go): the lockout stops guessing one
// account's password from many addresses, the throttle stops one address
// from trying many accounts, codes or links.
//
// Each client IP has a token bucket of throttleBurst attempts, refilled by
// one every throttleEvery: 10 quick failures, then 10 a minute sustained —
// more than any person mistypes, far less than any guessing is worth.
// Every throttled route shares the IP's one bucket. The buckets follow the
// Service's clock (s.now), not wall time.
//
// Only failures spend the budget: an office or a family behind one NAT
// address signs in as often as it likes. The throttle charges every
// attempt up front, before its handler runs, and gives the attempt back
// when the handler reports that the secret was right (attemptSucceeded).
// Charging first is what makes the budget impossible to race past: a
// flood of parallel guesses from one address finds the tokens already
// taken by the attempts still being checked, so at most throttleBurst
// attempts are ever in flight or failed at once, however many arrive
// together. (Checking the budget first and charging only after a failure
// would let every request of a parallel burst pass the check before the
// first failure is counted.) The price: more than throttleBurst sign-ins
// from one address in flight at the same instant (each lasts one password
// hash) see a 429 for the excess until their secrets are checked: the
// charge comes back the moment the secret is found right, not when the
// request ends.
//
// Apps authenticating to the OpenID Connect provider (token,
// introspection, revocation) have a bucket of their own per address,
// clientThrottleBurst deep, refilled at the same rate: an app's server
// sends many token requests at once, each in flight until its secret is
// checked (an argon2 hash for a client_secret_hash, the first time).
//
// A handler that reports nothing — an error, a malformed request, a
// "forgot password" mail, which is an abuse control rather than a secret
// check — keeps its charge: the default fails closed.
const (
	// throttleBurst is how many attempts an IP may make in a row.
	throttleBurst = 10
	// clientThrottleBurst is how many client authentications an IP may
	// have in flight or failed in a row.
	clientThrottleBurst = 64
	// throttleEvery is how often one spent attempt comes back: one every
	// 6 s, i.e. 10 a minute.
	throttleEvery = 6 * time.Second
	// throttleMaxClients caps the number of IPs tracked, so a flood from
	// many addresses cannot grow memory without bound (a few hundred
	// bytes each, so a few MB at most).
	throttleMaxClients = 10000
	// throttleIdle is how long after its last attempt an IP's bucket is
	// full again: forgetting it then loses nothing.
	throttleIdle = throttleBurst * throttleEvery
)

// throttle holds one token bucket per client IP (the shared logic of
// internal/ratelimit, also behind the directory server's binds) and the
// refusals being held. Memory is bounded by its capacity.
type throttle struct {
	buckets *ratelimit.Buckets
	// held counts the refused requests being held (see throttleDelay).
	held chan struct{}
}

// throttleDelay is how long a refused attempt is held before its 429. A
// client hammering past its allowance then gets one answer per connection
// per delay instead of as many as it can send: a flood of 10,000 refusals a
// second from 64 connections becomes 64 a second, and stops competing with
// the proxied traffic. At most maxHeld requests are held at once (beyond
// that the 429 is immediate), so holding cannot exhaust memory. A variable
// so tests can shorten it.
var throttleDelay = time.Second

// maxHeld bounds the refused requests held at once.
const maxHeld = 1024

// newThrottle returns a throttle of burst attempts per IP tracking at
// most capacity IPs (at least one).
func newThrottle(capacity, burst int) *throttle {
	return &throttle{buckets: ratelimit.New(capacity, burst, throttleEvery), held: make(chan struct{}, maxHeld)}
}

// take spends one attempt of key at now. It returns 0 when the attempt may
// go ahead, else how long until one is available; first is true for the
// first refusal since key's last allowed attempt.
func (t *throttle) take(key string, now time.Time) (wait time.Duration, first bool) {
	return t.buckets.Take(key, now)
}

// refund gives back one attempt of key taken by take: the attempt
// succeeded.
func (t *throttle) refund(key string, now time.Time) { t.buckets.Refund(key, now) }

// len returns how many IPs are tracked.
func (t *throttle) len() int { return t.buckets.Len() }

// throttleKey is the bucket name of a client address: the address itself
// for IPv4, its /64 for IPv6, the string as given when it is not an IP.
func throttleKey(ip string) string { return ratelimit.Key(ip) }

// attemptKey is the context key of the request's *attempt.
type attemptKey struct{}

// attempt is the charge one throttled request took: refund gives it
// back, once.
type attempt struct {
	once   sync.Once
	refund func()
}

// newAttempt is the charge of key taken at take, refunded on t.
func (t *throttle) newAttempt(key string, now func() time.Time) *attempt {
	return &attempt{refund: func() { t.refund(key, now()) }}
}

// attemptSucceeded reports that the secret its request carried was right (a
// password, a code, a link, a client secret), so the attempt it cost under
// s.throttled is given back — at once, not when the request ends: a
// request still at work after its secret was checked (signing tokens,
// writing a session) must not count against the requests that follow, or
// a busy app's concurrent token requests would throttle each other.
// Outside a throttled route it does nothing.
func attemptSucceeded(ctx context.Context) {
	if a, _ := ctx.Value(attemptKey{}).(*attempt); a != nil {
		a.once.Do(a.refund)
	}
}

// throttled wraps a handler that checks a secret (a password, a code, a
// link): past the client IP's allowance it answers 429 with Retry-After,
// as JSON under /api/ and as the error page elsewhere, without calling
// next. The attempt is charged before next runs and given back when next
// calls attemptSucceeded (see the top of this file for why).
func (s *Service) throttled(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ip := s.clientIP(r)
		key := throttleKey(ip)
		wait, first := s.throttle.take(key, s.now())
		if wait <= 0 {
			next(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, s.throttle.newAttempt(key, s.now))))
			return
		}
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		if first {
			s.log.Warn("too many attempts from one address: throttled", "ip", ip, "path", r.URL.Path, "retry_after", secs)
		}
		countPortalThrottle(s.core.Metrics(), r.URL.Path)
		s.throttle.hold(r)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSONError(w, http.StatusTooManyRequests, fmt.Sprintf("too many attempts, try again in %d seconds", secs))
			return
		}
		l := s.pages.lang(r.Header, nil)
		s.renderError(w, r, http.StatusTooManyRequests, l.S("error.throttled.title"), l.S("error.throttled", "Seconds", secs), nil)
	}
}

// hold waits throttleDelay (or until the client goes away) before a
// refusal, unless maxHeld refusals are already waiting.
func (t *throttle) hold(r *http.Request) {
	if throttleDelay <= 0 {
		return
	}
	select {
	case t.held <- struct{}{}:
	default:
		return
	}
	defer func() { <-t.held }()
	timer := time.NewTimer(throttleDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
	}
}
