package mail

import (
	"crypto/x509"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"time"
)

// TLS modes accepted in Config.TLS.
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS, failing
	// if the server does not offer it. It is the default.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "tls"
	// TLSNone never encrypts. Only sensible for a relay on the same host.
	TLSNone = "none"
)

// Defaults filled in by New for zero-valued fields.
const (
	// DefaultPortStartTLS is the submission port, used with "starttls".
	DefaultPortStartTLS = 587
	// DefaultPortTLS is the SMTPS port, used with "tls".
	DefaultPortTLS = 465
	// DefaultPortNone is the plain SMTP port, used with "none".
	DefaultPortNone = 25
	// DefaultTimeout bounds each network operation of one send.
	DefaultTimeout = 10 * time.Second
)

// Config says how to reach the SMTP server that relays Gatehouse's emails.
// It is meant to be embedded in Gatehouse's JSON configuration.
type Config struct {
	// Host is the SMTP server's host name or IP address, without a port.
	// Required.
	Host string `json:"host"`

	// Port is the SMTP server's TCP port. Zero means the usual port for
	// the TLS mode: 587 for "starttls", 465 for "tls", 25 for "none".
	Port int `json:"port,omitempty"`

	// Username for SMTP AUTH: PLAIN, else LOGIN, else the strongest other
	// mechanism the server offers. Empty means no authentication. When set,
	// Password must be set too, and sending fails if the server offers no
	// AUTH.
	Username string `json:"username,omitempty"`

	// Password for SMTP AUTH. Required when Username is set and not
	// allowed without it. Credentials are only ever sent over TLS, or in
	// plain text to a loopback relay with TLS mode "none".
	Password string `json:"password,omitempty"`

	// From is the sender of every message, an RFC 5322 address that may
	// include a display name, e.g. "Gatehouse <noreply@example.com>".
	// Required.
	From string `json:"from"`

	// TLS is the transport security: "starttls" (the default: plain
	// connection upgraded with STARTTLS, which is required), "tls"
	// (implicit TLS from the first byte) or "none" (no encryption; only
	// sensible for a relay on localhost).
	TLS string `json:"tls,omitempty"`

	// Timeout bounds each of the two phases of a send: connecting,
	// greeting, TLS and AUTH; then transferring the message. In JSON it is
	// a number of nanoseconds. Zero means 10s. The context passed to Send
	// can cut a send shorter.
	Timeout time.Duration `json:"timeout,omitempty"`

	// RootCAs, when not nil, replaces the system roots used to verify the
	// server's certificate: for tests and private CAs. Not configurable in
	// JSON.
	RootCAs *x509.CertPool `json:"-"`
}

// Validate checks c and returns the first problem found, with a message
// meant for the person who wrote the configuration. Zero Port, TLS and
// Timeout are valid: New fills in their defaults.
func (c Config) Validate() error {
	if c.Host == "" {
		return fmt.Errorf("mail: host is required")
	}
	if strings.ContainsAny(c.Host, " \t\r\n/\\@[]") {
		return fmt.Errorf("mail: host %q is not a valid host name", c.Host)
	}
	if _, _, err := net.SplitHostPort(c.Host); err == nil {
		return fmt.Errorf("mail: host %q must not include a port; set port instead", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("mail: port %d out of range (1-65535)", c.Port)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("mail: tls must be one of %s, %s, %s, got %q", TLSStartTLS, TLSImplicit, TLSNone, c.TLS)
	}
	if c.Username != "" && c.Password == "" {
		return fmt.Errorf("mail: username %q is set but password is empty", c.Username)
	}
	if c.Username == "" && c.Password != "" {
		return fmt.Errorf("mail: password is set but username is empty")
	}
	if c.Username != "" && c.TLS == TLSNone && !isLoopback(c.Host) {
		return fmt.Errorf("mail: tls %q would send the password in clear text to %s; use %s or %s, or a relay on localhost",
			TLSNone, c.Host, TLSStartTLS, TLSImplicit)
	}
	if c.From == "" {
		return fmt.Errorf("mail: from is required")
	}
	if _, err := parseAddress(c.From); err != nil {
		return fmt.Errorf("mail: from %q: not a valid address", c.From)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("mail: timeout %v must not be negative", c.Timeout)
	}
	return nil
}

// withDefaults returns c with zero Port, TLS and Timeout filled in.
func (c Config) withDefaults() Config {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSImplicit:
			c.Port = DefaultPortTLS
		case TLSNone:
			c.Port = DefaultPortNone
		default:
			c.Port = DefaultPortStartTLS
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// parseAddress parses one RFC 5322 address, refusing CR and LF outright
// (net/mail would accept folding white space) so that nothing can smuggle
// a header line into a message.
func parseAddress(s string) (*netmail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("contains a line break")
	}
	return netmail.ParseAddress(s)
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
