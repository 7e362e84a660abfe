package portal

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
// hash) see a 429 for the excess until the others finish.
//
// A handler that reports nothing — an error, a malformed request, a
// "forgot password" mail, which is an abuse control rather than a secret
// check — keeps its charge: the default fails closed.
const (
	// throttleBurst is how many attempts an IP may make in a row.
	throttleBurst = 10
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
	// throttleSample is how many entries are looked at to choose which to
	// drop when the map is full of active IPs.
	throttleSample = 16
	// throttleIPv6Prefix: IPv6 clients are counted per /64, the block one
	// subscriber usually gets, so hopping addresses inside it gains
	// nothing.
	throttleIPv6Prefix = 64
)

// throttle holds one token bucket per client IP. Memory is bounded by max
// and reclaimed lazily when an IP is added (a Service has no Stop, so
// there is no background janitor).
type throttle struct {
	mu        sync.Mutex
	clients   map[string]*throttleEntry
	max       int
	lastSweep time.Time
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

// throttleEntry is the bucket of one client IP.
type throttleEntry struct {
	// tokens is how many attempts were left at time at (fractions refill
	// continuously).
	tokens float64
	at     time.Time
	last   time.Time // the latest attempt, allowed or not
	// warned: a refusal was logged since the last allowed attempt, so a
	// flood logs one line, not one per request.
	warned bool
}

// fill brings e's tokens up to now. A clock that went back refills
// nothing.
func (e *throttleEntry) fill(now time.Time) {
	if now.After(e.at) {
		e.tokens = min(throttleBurst, e.tokens+float64(now.Sub(e.at))/float64(throttleEvery))
		e.at = now
	}
}

// newThrottle returns a throttle tracking at most capacity IPs (at least
// one).
func newThrottle(capacity int) *throttle {
	return &throttle{clients: make(map[string]*throttleEntry), max: max(capacity, 1), held: make(chan struct{}, maxHeld)}
}

// take spends one attempt of key at now. It returns 0 when the attempt may
// go ahead, else how long until one is available; first is true for the
// first refusal since key's last allowed attempt.
func (t *throttle) take(key string, now time.Time) (wait time.Duration, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.clients[key]
	if e == nil {
		if len(t.clients) >= t.max {
			t.makeRoom(now)
		}
		e = &throttleEntry{tokens: throttleBurst, at: now}
		t.clients[key] = e
	}
	e.last = now
	e.fill(now)
	if e.tokens < 1 {
		// Refused: nothing is spent, so hammering does not push the wait
		// further out, and it stays a plain "try again in d".
		first, e.warned = !e.warned, true
		return time.Duration(math.Ceil((1 - e.tokens) * float64(throttleEvery))), first
	}
	e.tokens--
	e.warned = false
	return 0, false
}

// refund gives back one attempt of key taken by take: the attempt
// succeeded. An IP forgotten meanwhile has a full bucket anyway.
func (t *throttle) refund(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.clients[key]; e != nil {
		e.fill(now)
		e.tokens = min(throttleBurst, e.tokens+1)
	}
}

// makeRoom drops entries until there is room for one more. At most once
// per throttleIdle it sweeps every idle entry (a full bucket, the same as
// a new one); when that frees nothing it drops the least recently used of
// a few entries, so adding an IP costs O(throttleSample), never a scan of
// the whole map under a flood. Only a flood of more than max active IPs
// within throttleIdle can make an active IP start afresh, and such a flood
// has max buckets anyway.
func (t *throttle) makeRoom(now time.Time) {
	if now.Sub(t.lastSweep) >= throttleIdle || now.Before(t.lastSweep) {
		t.lastSweep = now
		for k, e := range t.clients {
			if now.Sub(e.last) >= throttleIdle {
				delete(t.clients, k)
			}
		}
	}
	for len(t.clients) >= t.max {
		var (
			victim string
			oldest time.Time
			n      int
		)
		for k, e := range t.clients {
			if n == 0 || e.last.Before(oldest) {
				victim, oldest = k, e.last
			}
			if n++; n == throttleSample {
				break
			}
		}
		delete(t.clients, victim)
	}
}

// len returns how many IPs are tracked.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.clients)
}

// throttleKey is the bucket name of a client address: the address itself
// for IPv4, its /64 for IPv6, the string as given when it is not an IP.
func throttleKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(throttleIPv6Prefix)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// attemptKey is the context key of the request's *attempt.
type attemptKey struct{}

// attempt is the outcome of one throttled request, reported by its
// handler.
type attempt struct{ ok atomic.Bool }

// attemptSucceeded reports that the secret its request carried was right (a
// password, a code, a link), so the attempt it cost under s.throttled is
// given back. Outside a throttled route it does nothing.
func attemptSucceeded(ctx context.Context) {
	if a, _ := ctx.Value(attemptKey{}).(*attempt); a != nil {
		a.ok.Store(true)
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
			a := new(attempt)
			next(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, a)))
			if a.ok.Load() {
				s.throttle.refund(key, s.now())
			}
			return
		}
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		if first {
			s.log.Warn("too many attempts from one address: throttled", "ip", ip, "path", r.URL.Path, "retry_after", secs)
		}
		s.throttle.hold(r)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSONError(w, http.StatusTooManyRequests, fmt.Sprintf("too many attempts, try again in %d seconds", secs))
			return
		}
		s.renderError(w, r, http.StatusTooManyRequests, "Too many attempts",
			fmt.Sprintf("There were too many attempts from your address. Try again in %d seconds.", secs), nil)
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
