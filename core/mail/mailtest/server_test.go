package mailtest

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const rawMessage = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nbody\r\n"

// fakeTB records failures instead of stopping the test, to check that the
// helpers fail when they should.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatal(args ...any)                 { f.failed = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

// sendPlain sends rawMessage from a@example.com without TLS or AUTH.
func sendPlain(addr string, to []string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail("a@example.com", to, strings.NewReader(rawMessage))
}

// sendRaw sends rawMessage with go-smtp's client over c.
func sendRaw(c *smtp.Client, from, to string) error {
	defer c.Close()
	return c.SendMail(from, []string{to}, strings.NewReader(rawMessage))
}

func TestPlainServer(t *testing.T) {
	srv := NewServer(t)
	if srv.Host() != "127.0.0.1" || srv.Port() == 0 || srv.Addr() != fmt.Sprintf("127.0.0.1:%d", srv.Port()) {
		t.Fatalf("Host %q Port %d Addr %q", srv.Host(), srv.Port(), srv.Addr())
	}
	if srv.CertPool() != nil {
		t.Error("CertPool() != nil without TLS")
	}
	if err := sendPlain(srv.Addr(), []string{"b@example.com", "c@example.com"}); err != nil {
		t.Fatal(err)
	}
	r := srv.Wait(t, 1, 5*time.Second)[0]
	if r.From != "a@example.com" || strings.Join(r.To, ",") != "b@example.com,c@example.com" ||
		r.Subject != "hello" || r.Text != "body\n" || string(r.Data) != rawMessage || r.TLS || r.Username != "" {
		t.Errorf("got %+v", r)
	}
}

func TestSTARTTLSAndAuth(t *testing.T) {
	srv := NewServer(t, WithSTARTTLS(), WithAuth("u", "p"))
	if srv.CertPool() == nil {
		t.Fatal("CertPool() = nil with STARTTLS")
	}
	tlsConfig := &tls.Config{RootCAs: srv.CertPool(), ServerName: srv.Host()}

	// Before STARTTLS, AUTH is not offered.
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("STARTTLS not offered")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before STARTTLS")
	}
	c.Close()

	tests := []struct {
		name     string
		auth     sasl.Client
		wantErr  string
		wantUser string
	}{
		{"good credentials", sasl.NewPlainClient("", "u", "p"), "", "u"},
		{"wrong password", sasl.NewPlainClient("", "u", "x"), "535", ""},
		{"other identity", sasl.NewPlainClient("admin", "u", "p"), "535", ""},
		{"no AUTH", nil, "Please authenticate first", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := smtp.DialStartTLS(srv.Addr(), tlsConfig)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.auth != nil {
				err = c.Auth(tt.auth)
			}
			if err == nil {
				err = sendRaw(c, "a@example.com", "b@example.com")
			}
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	got := srv.Messages()
	if len(got) != 1 || !got[0].TLS || got[0].Username != "u" {
		t.Errorf("got %+v, want one message over TLS from u", got)
	}
}

func TestImplicitTLS(t *testing.T) {
	srv := NewServer(t, WithImplicitTLS())
	// A plain-text client gets no SMTP greeting: the server wants a TLS
	// handshake first and drops what is not one.
	raw, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Write([]byte("EHLO client\r\n")); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(raw)
	raw.Close()
	if strings.HasPrefix(string(reply), "220") {
		t.Errorf("plain-text client got a greeting: %q", reply)
	}
	c, err := smtp.DialTLS(srv.Addr(), &tls.Config{RootCAs: srv.CertPool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered on an implicit-TLS connection")
	}
	if err := sendRaw(c, "a@example.com", "b@example.com"); err != nil {
		t.Fatal(err)
	}
	if r := srv.Wait(t, 1, 5*time.Second)[0]; !r.TLS {
		t.Error("TLS = false")
	}
}

func TestWaitWakesUp(t *testing.T) {
	srv := NewServer(t)
	errc := make(chan error, 1)
	time.AfterFunc(100*time.Millisecond, func() {
		errc <- sendPlain(srv.Addr(), []string{"b@example.com"})
	})
	start := time.Now()
	got := srv.Wait(t, 1, 10*time.Second)
	if len(got) != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("Wait returned %d messages after %v", len(got), time.Since(start))
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestWaitTimesOut(t *testing.T) {
	srv := NewServer(t)
	fake := &fakeTB{}
	start := time.Now()
	if got := srv.Wait(fake, 1, 100*time.Millisecond); got != nil {
		t.Errorf("Wait = %v, want nil", got)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("Wait took %v", took)
	}
	if want := "mailtest: got 0 messages after 100ms, want 1"; fake.failed != want {
		t.Errorf("failure = %q, want %q", fake.failed, want)
	}
}

func TestMessagesAreCopies(t *testing.T) {
	srv := NewServer(t)
	if err := sendPlain(srv.Addr(), []string{"b@example.com"}); err != nil {
		t.Fatal(err)
	}
	first := srv.Wait(t, 1, 5*time.Second)
	first[0].To[0] = "changed"
	first[0].Data[0] = 'X'
	first[0].Header["Subject"][0] = "changed"
	again := srv.Messages()[0]
	if again.To[0] != "b@example.com" || again.Data[0] != 'F' || again.Header.Get("Subject") != "hello" {
		t.Errorf("Messages shares state with earlier results: %+v", again)
	}
}

func TestDataDelay(t *testing.T) {
	srv := NewServer(t, WithDataDelay(300*time.Millisecond))
	start := time.Now()
	if err := sendPlain(srv.Addr(), []string{"b@example.com"}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("send took %v, want at least the 300ms delay", took)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("got %d messages", n)
	}
}

func TestConflictingOptions(t *testing.T) {
	fake := &fakeTB{}
	if srv := NewServer(fake, WithSTARTTLS(), WithImplicitTLS()); srv != nil {
		t.Error("NewServer returned a server")
	}
	if !strings.Contains(fake.failed, "cannot be combined") {
		t.Errorf("failure = %q", fake.failed)
	}
}
