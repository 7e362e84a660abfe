package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Sender sends messages through the SMTP server of a Config. It opens a new
// connection per message and is safe for concurrent use.
//
// A nil *Sender means mail is not configured: Enabled reports false and Send
// returns ErrNotConfigured, so callers can hold a *Sender unconditionally.
type Sender struct {
	cfg  Config           // validated, defaults filled in
	from *netmail.Address // parsed cfg.From
}

// New validates c, fills in the defaults of its zero Port, TLS and Timeout,
// and returns a Sender for it. It does not connect to the server.
func New(c Config) (*Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	from, err := parseAddress(c.From)
	if err != nil { // Validate checked it already
		return nil, fmt.Errorf("mail: from %q: not a valid address", c.From)
	}
	return &Sender{cfg: c, from: from}, nil
}

// Enabled reports whether s can send, that is whether s is not nil.
func (s *Sender) Enabled() bool { return s != nil }

// Send delivers m to the configured SMTP server over a new connection.
//
// It returns ErrNotConfigured on a nil Sender, and an error matching
// ErrInvalidMessage, without connecting, when m's recipient is not one valid
// address or a header contains a line break. Other errors read
// "mail: send to ADDRESS: ..."; those where the server refused the
// credentials match ErrAuthFailed. Send gives up as soon as ctx is done,
// closing the connection, and its error then matches ctx.Err().
func (s *Sender) Send(ctx context.Context, m Message) error {
	if s == nil {
		return ErrNotConfigured
	}
	to, err := m.check()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: send to %s: %w", to.Address, err)
	}
	msg, err := s.build(m, to)
	if err != nil {
		return fmt.Errorf("mail: send to %s: %w", to.Address, err)
	}

	// go-mail honours ctx only while dialling; after that it relies on
	// deadlines. To stop as soon as ctx is done, the dialler below closes
	// the connection when ctx ends. go-mail calls it on this goroutine, at
	// most once (no fallback port is set), so conn and stop need no lock.
	var (
		conn net.Conn
		stop func() bool
	)
	dial := func(dctx context.Context, _, _ string) (net.Conn, error) {
		c, err := s.dial(dctx)
		if err != nil {
			return nil, err
		}
		conn = c
		stop = context.AfterFunc(ctx, func() { c.Close() })
		return c, nil
	}
	client, err := gomail.NewClient(s.cfg.Host, s.clientOptions(dial)...)
	if err != nil {
		return fmt.Errorf("mail: send to %s: %w", to.Address, err)
	}

	smtpClient, err := client.DialToSMTPClientWithContext(ctx)
	if err == nil {
		err = client.SendWithSMTPClient(smtpClient, msg)
		if err == nil {
			// The server has accepted the message: a failed QUIT
			// must not make the caller send it again.
			_ = client.CloseWithSMTPClient(smtpClient)
		}
	}
	if stop != nil {
		stop()
	}
	if conn != nil {
		conn.Close()
	}
	if err != nil {
		return s.sendError(ctx, to, err)
	}
	return nil
}

// sendError wraps an error from go-mail with the recipient and, when the
// cause is known, with ctx.Err() or ErrAuthFailed.
func (s *Sender) sendError(ctx context.Context, to *netmail.Address, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("mail: send to %s: %w (%v)", to.Address, ctxErr, err)
	}
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) && tpErr.Code == 535 {
		return &authError{to: to.Address, user: s.cfg.Username, err: err}
	}
	return fmt.Errorf("mail: send to %s: %w", to.Address, err)
}

// authError is a send refused because of the credentials.
type authError struct {
	to, user string
	err      error
}

func (e *authError) Error() string {
	return fmt.Sprintf("mail: send to %s: authentication as %q failed: %v", e.to, e.user, e.err)
}
func (e *authError) Unwrap() error        { return e.err }
func (e *authError) Is(target error) bool { return target == ErrAuthFailed }

// dial opens the TCP connection, with TLS from the start in mode "tls".
func (s *Sender) dial(ctx context.Context) (net.Conn, error) {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	d := &net.Dialer{Timeout: s.cfg.Timeout}
	if s.cfg.TLS == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig()}
		return td.DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// tlsConfig is the client TLS configuration for both "tls" and "starttls".
func (s *Sender) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName: s.cfg.Host,
		RootCAs:    s.cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}
}

// clientOptions configures a go-mail client for one send.
func (s *Sender) clientOptions(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(s.tlsConfig()),
	}
	if s.cfg.TLS == TLSStartTLS {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	} else {
		// "tls" is encrypted by dial already; "none" never is.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
		if s.cfg.TLS == TLSNone {
			// Validate allows this only for a loopback host.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		} else {
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		}
	}
	return opts
}

// build turns m into a go-mail message from the configured sender.
func (s *Sender) build(m Message, to *netmail.Address) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from.String()); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(to.String()); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(messageID(s.from.Address))
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageID returns a random Message-ID in the domain of the sender's
// address, so the local host name does not leak into messages.
func messageID(from string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + domain
}
