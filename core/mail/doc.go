// Package mail sends Gatehouse's emails (invitation links, password-reset
// links, test messages) over SMTP.
//
// A Sender is built from a Config with New and sends one plain-text (and
// optionally HTML) Message per call to Send, on a fresh connection each time,
// so it is safe for concurrent use. A nil *Sender stands for "mail is not
// configured": Enabled reports false and Send returns ErrNotConfigured.
//
// The SMTP client is github.com/wneessen/go-mail. Tests can run a real
// in-process SMTP server with the mailtest sub-package.
package mail
