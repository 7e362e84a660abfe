package mail

import (
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
)

// Message is one email to one recipient.
type Message struct {
	// To is the recipient, an RFC 5322 address that may include a display
	// name. Exactly one address; no line breaks.
	To string
	// Subject is the subject line, any Unicode; no line breaks.
	Subject string
	// Text is the plain-text body. Long lines (links) are fine: the body
	// is sent quoted-printable.
	Text string
	// HTML, when not empty, is sent as an alternative to Text.
	HTML string
}

// invalidMessageError is a problem with a Message found before connecting.
type invalidMessageError struct{ msg string }

func (e *invalidMessageError) Error() string        { return e.msg }
func (e *invalidMessageError) Is(target error) bool { return target == ErrInvalidMessage }

// check validates m and returns its parsed recipient.
func (m Message) check() (*netmail.Address, error) {
	if m.To == "" {
		return nil, &invalidMessageError{"mail: recipient is required"}
	}
	if strings.ContainsAny(m.To, "\r\n") {
		return nil, &invalidMessageError{fmt.Sprintf("mail: recipient %q contains a line break (header injection refused)", m.To)}
	}
	to, err := parseAddress(m.To)
	if err != nil {
		return nil, &invalidMessageError{fmt.Sprintf("mail: recipient %q: not a valid address", m.To)}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, &invalidMessageError{fmt.Sprintf("mail: subject %q contains a line break (header injection refused)", m.Subject)}
	}
	return to, nil
}

// Errors of this package, to check with errors.Is.
var (
	// ErrNotConfigured is returned by Send on a nil *Sender: no mail
	// server is configured.
	ErrNotConfigured = errors.New("mail: not configured")
	// ErrInvalidMessage matches errors about a Message itself (bad or
	// missing recipient, line break in a header), found before any
	// connection is made. Such a send will never succeed as it is.
	ErrInvalidMessage = errors.New("mail: invalid message")
	// ErrAuthFailed matches errors where the SMTP server rejected the
	// configured username and password.
	ErrAuthFailed = errors.New("mail: authentication failed")
)
