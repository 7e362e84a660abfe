package store

import (
	"net/url"
	"regexp"
	"strings"
)

// IsPostgresURL reports whether storage names a PostgreSQL database
// (postgres:// or postgresql://) rather than a Badger directory.
func IsPostgresURL(storage string) bool {
	l := strings.ToLower(storage)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// RedactDSN returns storage fit for a log or an error: a PostgreSQL URL
// with its password (in the user info or a password= parameter) replaced
// by "xxxxx"; a directory as it is.
func RedactDSN(storage string) string {
	if !IsPostgresURL(storage) {
		return storage
	}
	u, err := url.Parse(storage)
	if err != nil {
		// Unparseable: keep the scheme only rather than risk the secret.
		scheme, _, _ := strings.Cut(storage, "://")
		return scheme + "://(unparseable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// passwordIn finds the password in a DSN's user info.
var passwordIn = regexp.MustCompile(`://[^:/@]*:([^@/]*)@`)

// redactIn replaces every occurrence of dsn's password in msg.
func redactIn(msg, dsn string) string {
	var secrets []string
	if m := passwordIn.FindStringSubmatch(dsn); m != nil && m[1] != "" {
		secrets = append(secrets, m[1])
		if p, err := url.PathUnescape(m[1]); err == nil {
			secrets = append(secrets, p)
		}
	}
	if u, err := url.Parse(dsn); err == nil {
		for k, v := range u.Query() {
			if strings.EqualFold(k, "password") {
				secrets = append(secrets, v...)
			}
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}
