package mail_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/mail"
	"github.com/gatehouse-auth/gatehouse/core/mail/mailtest"
)

// link is longer than a quoted-printable line, so it is soft-wrapped on the
// wire and must come back whole.
const link = "https://gate.example.com/invite/accept?token=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9mcmVk&next=%2Fapps"

func newSender(t *testing.T, c mail.Config) *mail.Sender {
	t.Helper()
	s, err := mail.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !s.Enabled() {
		t.Fatal("Enabled() = false for a configured sender")
	}
	return s
}

func send(t *testing.T, s *mail.Sender, m mail.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Send(ctx, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

func TestSendPlain(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none",
		From: "Gatehouse <noreply@gate.example.com>"})

	send(t, s, mail.Message{To: "Ada Lovelace <ada@example.com>", Subject: "Test email",
		Text: "Hello Ada,\n\nthis is a test.\n"})

	got := srv.Wait(t, 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1", len(got))
	}
	r := got[0]
	if r.From != "noreply@gate.example.com" {
		t.Errorf("envelope from = %q", r.From)
	}
	if len(r.To) != 1 || r.To[0] != "ada@example.com" {
		t.Errorf("envelope to = %q", r.To)
	}
	if r.Subject != "Test email" {
		t.Errorf("subject = %q", r.Subject)
	}
	if r.Text != "Hello Ada,\n\nthis is a test.\n" {
		t.Errorf("text = %q", r.Text)
	}
	if r.TLS || r.Username != "" {
		t.Errorf("TLS = %v, username = %q; want a plain anonymous session", r.TLS, r.Username)
	}
	from, err := r.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Gatehouse" || from[0].Address != "noreply@gate.example.com" {
		t.Errorf("From header = %v, %v", from, err)
	}
	to, err := r.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Ada Lovelace" || to[0].Address != "ada@example.com" {
		t.Errorf("To header = %v, %v", to, err)
	}
	if id := r.Header.Get("Message-Id"); !strings.HasSuffix(id, "@gate.example.com>") {
		t.Errorf("Message-ID = %q, want one in the sender's domain", id)
	}
	if _, err := r.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
}

func TestSendStartTLSWithAuth(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS(), mailtest.WithAuth("gate", "s3cret"))
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), Username: "gate", Password: "s3cret",
		From: "Gatehouse <noreply@gate.example.com>", RootCAs: srv.CertPool()})

	send(t, s, mail.Message{
		To:      "Bøb Ørsted <bob@example.com>",
		Subject: "Einladung zu Gatehouse – bitte bestätigen",
		Text:    "Hallo Bob,\n\nöffne diesen Link, um dein Konto einzurichten:\n" + link + "\n",
		HTML:    `<p>Open <a href="` + link + `">this link</a>.</p>`,
	})

	r := srv.Wait(t, 1, 5*time.Second)[0]
	if !r.TLS {
		t.Error("message did not come over TLS")
	}
	if r.Username != "gate" {
		t.Errorf("authenticated user = %q, want gate", r.Username)
	}
	if r.From != "noreply@gate.example.com" || len(r.To) != 1 || r.To[0] != "bob@example.com" {
		t.Errorf("envelope = %q -> %q", r.From, r.To)
	}
	if to, err := r.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != "Bøb Ørsted" {
		t.Errorf("To header = %v, %v", to, err)
	}
	if r.Subject != "Einladung zu Gatehouse – bitte bestätigen" {
		t.Errorf("subject = %q", r.Subject)
	}
	if !strings.Contains(r.Text, "öffne diesen Link") || !strings.Contains(r.Text, link) {
		t.Errorf("text does not contain the link:\n%s", r.Text)
	}
	if !strings.Contains(r.HTML, `href="`+link+`"`) {
		t.Errorf("HTML does not contain the link:\n%s", r.HTML)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithImplicitTLS(), mailtest.WithAuth("gate", "s3cret"))
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "tls", Username: "gate", Password: "s3cret",
		From: "noreply@gate.example.com", RootCAs: srv.CertPool()})

	send(t, s, mail.Message{To: "carol@example.com", Subject: "Reset your password", Text: "Reset: " + link})

	r := srv.Wait(t, 1, 5*time.Second)[0]
	if !r.TLS || r.Username != "gate" {
		t.Errorf("TLS = %v, user = %q; want TLS as gate", r.TLS, r.Username)
	}
	if r.Subject != "Reset your password" || !strings.Contains(r.Text, link) {
		t.Errorf("subject %q, text %q", r.Subject, r.Text)
	}
}

func TestSendAuthOnLoopbackWithoutTLS(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithAuth("gate", "s3cret"))
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none", Username: "gate", Password: "s3cret",
		From: "noreply@gate.example.com"})

	send(t, s, mail.Message{To: "dave@example.com", Subject: "Hi", Text: "Hi"})

	if r := srv.Wait(t, 1, 5*time.Second)[0]; r.Username != "gate" || r.TLS {
		t.Errorf("TLS = %v, user = %q; want plain as gate", r.TLS, r.Username)
	}
}

// TestSendFailures covers errors reported by or about the server; none may
// deliver a message.
func TestSendFailures(t *testing.T) {
	tlsAuth := []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth("gate", "s3cret")}
	tests := []struct {
		name     string
		opts     []mailtest.Option
		cfg      func(srv *mailtest.Server) mail.Config
		wantIs   error
		wantText string
	}{
		{
			name: "wrong password",
			opts: tlsAuth,
			cfg: func(srv *mailtest.Server) mail.Config {
				return mail.Config{Host: srv.Host(), Port: srv.Port(), Username: "gate", Password: "wrong",
					From: "noreply@gate.example.com", RootCAs: srv.CertPool()}
			},
			wantIs:   mail.ErrAuthFailed,
			wantText: "authentication",
		},
		{
			name: "unknown user over implicit TLS",
			opts: []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth("gate", "s3cret")},
			cfg: func(srv *mailtest.Server) mail.Config {
				return mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "tls", Username: "mallory", Password: "s3cret",
					From: "noreply@gate.example.com", RootCAs: srv.CertPool()}
			},
			wantIs:   mail.ErrAuthFailed,
			wantText: "authentication",
		},
		{
			name: "no credentials where the server requires them",
			opts: tlsAuth,
			cfg: func(srv *mailtest.Server) mail.Config {
				return mail.Config{Host: srv.Host(), Port: srv.Port(), From: "noreply@gate.example.com", RootCAs: srv.CertPool()}
			},
			wantText: "authenticate",
		},
		{
			name: "server without STARTTLS",
			cfg: func(srv *mailtest.Server) mail.Config {
				return mail.Config{Host: srv.Host(), Port: srv.Port(), From: "noreply@gate.example.com"}
			},
			wantText: "STARTTLS",
		},
		{
			name: "untrusted certificate",
			opts: tlsAuth,
			cfg: func(srv *mailtest.Server) mail.Config {
				return mail.Config{Host: srv.Host(), Port: srv.Port(), Username: "gate", Password: "s3cret",
					From: "noreply@gate.example.com"}
			},
			wantText: "certificate",
		},
		{
			name: "credentials but server offers no AUTH",
			cfg: func(srv *mailtest.Server) mail.Config {
				return mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none", Username: "gate", Password: "s3cret",
					From: "noreply@gate.example.com"}
			},
			wantText: "AUTH",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, tt.opts...)
			s := newSender(t, tt.cfg(srv))
			err := s.Send(context.Background(), mail.Message{To: "eve@example.com", Subject: "x", Text: "x"})
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if !strings.HasPrefix(err.Error(), "mail: send to eve@example.com: ") {
				t.Errorf("error %q lacks the recipient context", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.wantText)) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
			if tt.wantIs == nil && errors.Is(err, mail.ErrAuthFailed) {
				t.Errorf("error %q wrongly matches ErrAuthFailed", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server received %d messages", n)
			}
		})
	}
}

func TestSendRefusesBadMessages(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none", From: "noreply@gate.example.com"})
	tests := []struct {
		name string
		msg  mail.Message
		want string
	}{
		{"CRLF in subject", mail.Message{To: "a@example.com", Subject: "Hi\r\nBcc: victim@example.com", Text: "x"},
			`mail: subject "Hi\r\nBcc: victim@example.com" contains a line break (header injection refused)`},
		{"LF in subject", mail.Message{To: "a@example.com", Subject: "Hi\nX-Evil: 1", Text: "x"},
			`mail: subject "Hi\nX-Evil: 1" contains a line break (header injection refused)`},
		{"CR in subject", mail.Message{To: "a@example.com", Subject: "Hi\rX-Evil: 1", Text: "x"},
			`mail: subject "Hi\rX-Evil: 1" contains a line break (header injection refused)`},
		{"CRLF in recipient", mail.Message{To: "a@example.com\r\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
			`mail: recipient "a@example.com\r\nBcc: victim@example.com" contains a line break (header injection refused)`},
		{"folded recipient", mail.Message{To: "Ada\r\n <a@example.com>", Subject: "Hi", Text: "x"},
			`mail: recipient "Ada\r\n <a@example.com>" contains a line break (header injection refused)`},
		{"no recipient", mail.Message{Subject: "Hi", Text: "x"},
			"mail: recipient is required"},
		{"not an address", mail.Message{To: "not-an-address", Subject: "Hi", Text: "x"},
			`mail: recipient "not-an-address": not a valid address`},
		{"two recipients", mail.Message{To: "a@example.com, b@example.com", Subject: "Hi", Text: "x"},
			`mail: recipient "a@example.com, b@example.com": not a valid address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(context.Background(), tt.msg)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
			if !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("errors.Is(err, ErrInvalidMessage) = false")
			}
		})
	}
	// A good message afterwards arrives alone: nothing above reached the server.
	send(t, s, mail.Message{To: "a@example.com", Subject: "ok", Text: "ok"})
	if got := srv.Wait(t, 1, 5*time.Second); len(got) != 1 || got[0].Subject != "ok" {
		t.Errorf("server got %d messages, first subject %q; want only the good one", len(got), got[0].Subject)
	}
}

// silentServer accepts TCP connections and never says anything, like a
// firewalled or hung mail server.
func silentServer(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	addr := ln.Addr().(*net.TCPAddr)
	return addr.IP.String(), addr.Port
}

func TestSendStopsWithContext(t *testing.T) {
	msg := mail.Message{To: "a@example.com", Subject: "x", Text: "x"}

	t.Run("already cancelled", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none", From: "noreply@gate.example.com"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Send(ctx, msg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v, want context.Canceled", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server received %d messages", n)
		}
	})

	t.Run("cancelled while the server handles DATA", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithDataDelay(time.Minute))
		s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none", From: "noreply@gate.example.com"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := s.Send(ctx, msg)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Send took %v after cancellation", took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v, want context.Canceled", err)
		}
		if !strings.HasPrefix(err.Error(), "mail: send to a@example.com: context canceled") {
			t.Errorf("error = %q", err)
		}
	})

	t.Run("deadline while the server is silent", func(t *testing.T) {
		host, port := silentServer(t)
		s := newSender(t, mail.Config{Host: host, Port: port, TLS: "none", From: "noreply@gate.example.com"})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.Send(ctx, msg)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Send took %v with a 200ms deadline", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestSendTimeout(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithDataDelay(time.Minute))
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none", From: "noreply@gate.example.com",
		Timeout: 300 * time.Millisecond})
	start := time.Now()
	err := s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x", Text: "x"})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Send took %v with a 300ms timeout", took)
	}
	if err == nil {
		t.Fatal("Send succeeded, want a timeout")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("error %q does not mention the timeout", err)
	}
}

func TestSendConcurrently(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS(), mailtest.WithAuth("gate", "s3cret"))
	s := newSender(t, mail.Config{Host: srv.Host(), Port: srv.Port(), Username: "gate", Password: "s3cret",
		From: "noreply@gate.example.com", RootCAs: srv.CertPool()})

	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Send(context.Background(), mail.Message{
				To: fmt.Sprintf("user%d@example.com", i), Subject: fmt.Sprintf("message %d", i), Text: link})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got := srv.Wait(t, n, 10*time.Second)
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.Subject] = true
		if len(r.To) != 1 || r.To[0] != strings.Replace(r.Subject, "message ", "user", 1)+"@example.com" {
			t.Errorf("message %q went to %q", r.Subject, r.To)
		}
	}
	if len(got) != n || len(seen) != n {
		t.Errorf("got %d messages with %d distinct subjects, want %d", len(got), len(seen), n)
	}
}

func TestNilSender(t *testing.T) {
	var s *mail.Sender
	if s.Enabled() {
		t.Error("nil Sender is Enabled")
	}
	err := s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x", Text: "x"})
	if !errors.Is(err, mail.ErrNotConfigured) {
		t.Errorf("Send on nil Sender = %v, want ErrNotConfigured", err)
	}
}
