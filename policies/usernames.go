package policies

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidUsername is wrapped by every error of ValidateUsername and
// ValidateGroupName; the wrapping error says exactly what is wrong.
var ErrInvalidUsername = errors.New("invalid username")

// Length bounds of usernames and group names, in characters.
const (
	MinNameLength = 2
	MaxNameLength = 32
)

// reservedUsernames cannot be taken by anyone: they name the product, its
// routes and roles, or well-known system and mail accounts, so that nobody
// can pass for the system in a user list, an audit line or an email
// ("cli" is the actor of the command-line tool's changes in the audit log).
var reservedUsernames = map[string]struct{}{
	"abuse": {}, "account": {}, "accounts": {}, "admin": {}, "administrator": {},
	"anonymous": {}, "api": {}, "auth": {}, "cli": {}, "daemon": {}, "everyone": {},
	"gatehouse": {}, "guest": {}, "help": {}, "hostmaster": {}, "info": {},
	"localhost": {}, "login": {}, "logout": {}, "mailer-daemon": {}, "nil": {},
	"no-reply": {}, "nobody": {}, "noreply": {}, "null": {}, "oauth": {},
	"oidc": {}, "owner": {}, "portal": {}, "postmaster": {}, "root": {},
	"security": {}, "setup": {}, "sso": {}, "static": {}, "superuser": {},
	"support": {}, "sysadmin": {}, "system": {}, "undefined": {}, "webmaster": {},
	"www": {},
}

// NormalizeUsername returns s without surrounding white space and in lower
// case: the form in which usernames and group names are stored and compared.
func NormalizeUsername(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// IsReservedUsername reports whether name (normalized) is kept for the system
// and cannot be given to a user.
func IsReservedUsername(name string) bool {
	_, ok := reservedUsernames[name]
	return ok
}

// ValidateUsername checks a normalized username: 2 to 32 characters among
// lowercase letters a-z, digits, ".", "-" and "_", starting with a letter or
// a digit, and not reserved. The error wraps ErrInvalidUsername.
func ValidateUsername(name string) error {
	if err := validateName("username", name); err != nil {
		return err
	}
	if IsReservedUsername(name) {
		return &nameError{kind: "username", name: name, format: "is reserved: choose another one"}
	}
	return nil
}

// ValidateGroupName checks a normalized group name with the character and
// length rules of usernames; the reserved list does not apply. The error
// wraps ErrInvalidUsername.
func ValidateGroupName(name string) error {
	return validateName("group name", name)
}

func validateName(kind, name string) error {
	if name == "" {
		return &nameError{kind: kind, name: name, format: "is required"}
	}
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return &nameError{kind: kind, name: name, format: `may contain only lowercase letters, digits, ".", "-" and "_"`}
		}
	}
	if n := utf8.RuneCountInString(name); n < MinNameLength || n > MaxNameLength {
		return &nameError{kind: kind, name: name, format: "must be %d to %d characters long", args: []any{MinNameLength, MaxNameLength}}
	}
	if c := name[0]; !isLowerASCII(c) && !isDigitASCII(c) {
		return &nameError{kind: kind, name: name, format: "must start with a letter or a digit"}
	}
	return nil
}

func isNameChar(c byte) bool {
	return isLowerASCII(c) || isDigitASCII(c) || c == '.' || c == '-' || c == '_'
}

func isLowerASCII(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigitASCII(c byte) bool { return '0' <= c && c <= '9' }

// nameError says what is wrong with a username or group name and matches
// ErrInvalidUsername with errors.Is. The problem is a printf format and
// its arguments, so that pages can say it in their language.
type nameError struct {
	kind, name, format string
	args               []any
}

func (e *nameError) Error() string {
	name, problem := e.shownName(), fmt.Sprintf(e.format, e.args...)
	if name == "" {
		return "the " + e.kind + " " + problem
	}
	return fmt.Sprintf("the %s %q %s", e.kind, name, problem)
}

// shownName is the name as a message shows it, cut after 64 bytes.
func (e *nameError) shownName() string {
	if len(e.name) > 2*MaxNameLength {
		return e.name[:2*MaxNameLength] + "…"
	}
	return e.name
}

// NameProblem is what Error says, in parts: the kind of name ("username",
// "group name"), the name as shown ("" when empty), and the problem as an
// English printf format ("is reserved: choose another one") and its
// arguments.
func (e *nameError) NameProblem() (kind, name, format string, args []any) {
	return e.kind, e.shownName(), e.format, e.args
}

func (e *nameError) Is(target error) bool { return target == ErrInvalidUsername }
