package ldapserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/ratelimit"
)

// Defaults for Config fields left zero.
const (
	DefaultSizeLimit   = 1000
	DefaultIdleTimeout = 10 * time.Minute
	DefaultMaxConns    = 1024
	// DefaultMaxConnsPerIP bounds one address's connections.
	DefaultMaxConnsPerIP = 64
)

// Timeouts within a connection.
const (
	// messageTimeout is how long the rest of a message may take once its
	// first byte came, and a TLS handshake.
	messageTimeout = 30 * time.Second
	// writeTimeout bounds writing one operation's answer.
	writeTimeout = 30 * time.Second
)

// Bind throttle: the portal's numbers (10 failures in a row, then one
// every 6 s), through the same logic (internal/ratelimit).
const (
	bindBurst       = 10
	bindEvery       = 6 * time.Second
	bindMaxClients  = 10000
	bindRefusalHold = time.Second
	maxHeld         = 256
)

// DefaultAllow is the allow list unless configured: loopback only.
var DefaultAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Config configures a Server.
type Config struct {
	// BaseDN is the root of the tree. Default: core.DefaultDirectoryBaseDN.
	BaseDN string
	// Allow lists the client networks that may connect; others are
	// disconnected before anything is read. Default: DefaultAllow.
	Allow []netip.Prefix
	// SizeLimit is the most entries one search, or one page of a paged
	// search, returns. Default: DefaultSizeLimit.
	SizeLimit int
	// TLS serves StartTLS and LDAPS (ServeTLS). Nil: neither is offered.
	TLS *tls.Config
	// IdleTimeout closes a connection that sends nothing for this long.
	// Default: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxConns and MaxConnsPerIP bound open connections. Defaults:
	// DefaultMaxConns, DefaultMaxConnsPerIP.
	MaxConns, MaxConnsPerIP int
	// Logger receives operational lines (never what a client sent).
	// Default: the core's logger.
	Logger *slog.Logger
}

// Server is a directory server over one core. It is safe for concurrent
// use; Close stops it.
type Server struct {
	core *core.Core
	cfg  Config
	tree *tree
	log  *slog.Logger

	throttle *ratelimit.Buckets
	held     chan struct{}

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int
	// refused remembers when a refusal of each address was last logged.
	refused map[string]time.Time
	wg      sync.WaitGroup
}

// New checks cfg, fills its defaults and returns a server over c.
func New(c *core.Core, cfg Config) (*Server, error) {
	if c == nil {
		return nil, errors.New("ldapserver: no core")
	}
	if cfg.BaseDN == "" {
		cfg.BaseDN = core.DefaultDirectoryBaseDN
	}
	t, err := newTree(cfg.BaseDN)
	if err != nil {
		return nil, fmt.Errorf("ldapserver: %w", err)
	}
	if len(cfg.Allow) == 0 {
		cfg.Allow = DefaultAllow
	}
	if cfg.SizeLimit <= 0 {
		cfg.SizeLimit = DefaultSizeLimit
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.Logger == nil {
		cfg.Logger = c.Log()
	}
	return &Server{core: c, cfg: cfg, tree: t, log: cfg.Logger.With("component", "ldap"),
		throttle: ratelimit.New(bindMaxClients, bindBurst, bindEvery), held: make(chan struct{}, maxHeld),
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}, perIP: map[string]int{},
		refused: map[string]time.Time{}}, nil
}

// BaseDN is the root of the tree.
func (s *Server) BaseDN() string { return s.tree.base }

// Serve accepts plain LDAP connections (StartTLS offered when the config
// has TLS) on l until Close. It closes l.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS accepts LDAPS connections on l until Close. It closes l.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cfg.TLS == nil {
		l.Close()
		return errors.New("ldapserver: LDAPS needs a TLS config")
	}
	return s.serve(l, true)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		ip := remoteIP(nc.RemoteAddr())
		if !s.allowed(ip) {
			s.logRefusal(ip)
			nc.Close()
			continue
		}
		c, ok := s.admit(nc, ip)
		if !ok {
			nc.Close()
			continue
		}
		if implicitTLS {
			c.startTLS(tls.Server(nc, s.cfg.TLS))
		}
		go s.run(c)
	}
}

// remoteIP is the address of a connection's peer, unmapped ("" when not
// an IP).
func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// allowed reports whether ip is in the allow list.
func (s *Server) allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range s.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// logRefusal logs a refused address at most once a minute.
func (s *Server) logRefusal(ip netip.Addr) {
	key := ip.String()
	now := s.core.Now()
	s.mu.Lock()
	last, seen := s.refused[key]
	log := !seen || now.Sub(last) >= time.Minute || now.Before(last)
	if log {
		if len(s.refused) >= 10000 {
			for k, t := range s.refused {
				if now.Sub(t) >= time.Minute {
					delete(s.refused, k)
				}
			}
			if len(s.refused) >= 10000 {
				clear(s.refused)
			}
		}
		s.refused[key] = now
	}
	s.mu.Unlock()
	if log {
		s.log.Warn("connection refused: address not in the allow list (logged once a minute per address)", "ip", key)
	}
}

// admit registers a new connection unless a limit is reached.
func (s *Server) admit(nc net.Conn, ip netip.Addr) (*conn, bool) {
	key := ip.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.cfg.MaxConns || s.perIP[key] >= s.cfg.MaxConnsPerIP {
		return nil, false
	}
	c := newConn(s, nc, key)
	s.conns[c] = struct{}{}
	s.perIP[key]++
	s.wg.Add(1)
	return c, true
}

// run serves c and lets go of it.
func (s *Server) run(c *conn) {
	defer s.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("ldap connection panicked; closed", "panic", fmt.Sprint(r))
		}
		c.close()
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
		s.mu.Unlock()
	}()
	c.serve()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// CheckBaseDN reports whether dn can be the root of the tree.
func CheckBaseDN(dn string) error {
	_, err := newTree(dn)
	return err
}
