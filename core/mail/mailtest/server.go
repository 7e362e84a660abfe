// Package mailtest runs a real SMTP server in the test process, for tests
// (of any package) that send email. It is not meant for production code.
//
// The server (github.com/emersion/go-smtp) listens on 127.0.0.1 on a free
// port, accepts every sender and recipient, keeps every message it accepts,
// and is closed when the test ends:
//
//	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS(), mailtest.WithAuth("u", "p"))
//	// ... configure the code under test with srv.Host(), srv.Port(),
//	// srv.CertPool(), user "u" and password "p", and make it send ...
//	got := srv.Wait(t, 1, 5*time.Second)
//	if !strings.Contains(got[0].Text, "https://") { ... }
package mailtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	// From is the envelope sender (MAIL FROM), a bare address.
	From string
	// To are the envelope recipients (RCPT TO), bare addresses.
	To []string
	// Data is the message as received: headers and encoded body, with
	// CRLF line endings.
	Data []byte
	// Header holds the parsed top-level header fields, still encoded
	// (use its AddressList method, or mime.WordDecoder). Nil if Data could
	// not be parsed.
	Header netmail.Header
	// Subject is the Subject header, decoded from RFC 2047.
	Subject string
	// Text is the first text/plain part (or the body of a message with no
	// Content-Type), transfer encoding (quoted-printable, base64) removed
	// and line endings turned into "\n".
	Text string
	// HTML is the first text/html part, decoded the same way; empty if
	// there is none.
	HTML string
	// TLS reports whether the message came over TLS (implicit or
	// STARTTLS).
	TLS bool
	// Username is the user that authenticated with AUTH, empty if none.
	Username string
}

// Option configures a Server.
type Option func(*options)

type options struct {
	username, password string
	auth               bool
	startTLS           bool
	implicitTLS        bool
	dataDelay          time.Duration
}

// WithAuth makes the server offer AUTH PLAIN and refuse mail from clients
// that did not authenticate as username with password. Bad credentials get
// "535 5.7.8 Authentication failed". With WithSTARTTLS, AUTH is offered only
// after STARTTLS, as real servers do; without it, AUTH works in clear text.
func WithAuth(username, password string) Option {
	return func(o *options) {
		o.auth = true
		o.username, o.password = username, password
	}
}

// WithSTARTTLS makes the server offer STARTTLS with a self-signed
// certificate for 127.0.0.1, ::1 and localhost, generated at start. Clients
// trust it through CertPool.
func WithSTARTTLS() Option {
	return func(o *options) { o.startTLS = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte (like
// port 465), with the same kind of certificate as WithSTARTTLS. It cannot be
// combined with WithSTARTTLS.
func WithImplicitTLS() Option {
	return func(o *options) { o.implicitTLS = true }
}

// WithDataDelay makes the server wait d after receiving a message's data
// before answering (and recording it), to test client timeouts and
// cancellation. The wait ends early when the server closes.
func WithDataDelay(d time.Duration) Option {
	return func(o *options) { o.dataDelay = d }
}

// Server is a running in-process SMTP server. Its methods are safe for
// concurrent use.
type Server struct {
	opts    options
	srv     *smtp.Server
	host    string
	port    int
	pool    *x509.CertPool
	closing chan struct{}
	// refusing makes MAIL FROM fail with a temporary error (SetRefusing).
	refusing atomic.Bool
	// delay, when set, replaces the WithDataDelay option (SetDataDelay).
	delay atomic.Int64

	mu      sync.Mutex
	msgs    []Received
	changed chan struct{} // closed and replaced when a message arrives
}

// NewServer starts a server on 127.0.0.1 on a free port and registers its
// shutdown with t.Cleanup. It fails the test if the server cannot start.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.startTLS && o.implicitTLS {
		t.Fatal("mailtest: WithSTARTTLS and WithImplicitTLS cannot be combined")
		return nil
	}

	s := &Server{opts: o, closing: make(chan struct{}), changed: make(chan struct{})}
	var tlsConfig *tls.Config
	if o.startTLS || o.implicitTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
			return nil
		}
		s.pool = pool
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
		return nil
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.host, s.port = addr.IP.String(), addr.Port
	if o.implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}

	logger := &testLogger{t: t}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.ErrorLog = logger
	if o.startTLS {
		srv.TLSConfig = tlsConfig
	}
	// Without a way to encrypt, let AUTH happen in clear text (loopback).
	srv.AllowInsecureAuth = !o.startTLS
	s.srv = srv

	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			logger.Printf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		close(s.closing)
		_ = srv.Close()
		// Close misses the listener if Serve has not registered it yet.
		_ = ln.Close()
		<-served
		logger.stop()
	})
	return s
}

// SetRefusing makes the server refuse every message with a temporary
// error (451) while on is true, as a server that is down for maintenance.
func (s *Server) SetRefusing(on bool) { s.refusing.Store(on) }

// SetDataDelay makes the server wait d after receiving each message's
// data before accepting it, from now on (0: back to the WithDataDelay
// option), as a slow server does.
func (s *Server) SetDataDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Host returns the IP address the server listens on, "127.0.0.1".
func (s *Server) Host() string { return s.host }

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Addr returns "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.host, fmt.Sprint(s.port)) }

// CertPool returns a pool holding the server's self-signed certificate, for
// a client to trust; nil unless the server uses TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneReceived(s.msgs)
}

// Wait waits until at least n messages have been accepted and returns all
// messages accepted so far (oldest first). After timeout it fails the test
// with t.Fatalf, so call it from the test's goroutine.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := cloneReceived(s.msgs)
			s.mu.Unlock()
			return msgs
		}
		got, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("mailtest: got %d messages after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

func cloneReceived(in []Received) []Received {
	out := make([]Received, len(in))
	for i, r := range in {
		r.To = append([]string(nil), r.To...)
		r.Data = append([]byte(nil), r.Data...)
		if r.Header != nil {
			h := make(netmail.Header, len(r.Header))
			for k, v := range r.Header {
				h[k] = append([]string(nil), v...)
			}
			r.Header = h
		}
		out[i] = r
	}
	return out
}

// newSession is called after each EHLO/HELO, again after STARTTLS.
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: s, tls: isTLS}, nil
}

// session is one SMTP conversation.
type session struct {
	s        *Server
	tls      bool
	username string // set after successful AUTH
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if !ss.s.opts.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if !ss.s.opts.auth || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.username || password != ss.s.opts.password ||
			(identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		ss.username = username
		return nil
	}), nil
}

func (ss *session) authorised() error {
	if ss.s.opts.auth && ss.username == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.authorised(); err != nil {
		return err
	}
	if ss.s.refusing.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later (refusing, for a test)"}
	}
	ss.from, ss.to = from, nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.authorised(); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if err := ss.authorised(); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d := ss.s.opts.dataDelay
	if v := ss.s.delay.Load(); v > 0 {
		d = time.Duration(v)
	}
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ss.s.closing:
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Server shutting down"}
		}
	}
	rec := parseMessage(data)
	rec.From = ss.from
	rec.To = append([]string(nil), ss.to...)
	rec.TLS = ss.tls
	rec.Username = ss.username
	ss.s.add(rec)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// testLogger sends the server's error log to t.Logf until the test ends
// (t.Logf must not be called after that).
type testLogger struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLogger) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("mailtest: "+format, v...)
	}
}

func (l *testLogger) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log(append([]any{"mailtest:"}, v...)...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
