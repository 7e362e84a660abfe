package policies

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrWeakPassword is wrapped by PasswordRules.Check when a password breaks
// one or more rules; the wrapping error lists them.
var ErrWeakPassword = errors.New("password does not meet the rules")

// Default length bounds of passwords, in characters.
const (
	DefaultMinPasswordLength = 8
	// DefaultMaxPasswordLength bounds the work of hashing one password.
	DefaultMaxPasswordLength = 256
)

// minForbiddenUsername is the shortest username that ForbidUsername looks for:
// forbidding every password that contains "jo" would only annoy Jo.
const minForbiddenUsername = 3

// PasswordRules are the rules a new password must follow.
type PasswordRules struct {
	// MinLength is the least number of characters. Zero or less means
	// the default. Default: 8.
	MinLength int `json:"min_length,omitempty"`
	// MaxLength is the greatest number of characters; it bounds the cost of
	// hashing. Zero or less means the default. Default: 256.
	MaxLength int `json:"max_length,omitempty"`
	// RequireLower asks for at least one lower-case letter. Default: true.
	RequireLower bool `json:"require_lower"`
	// RequireUpper asks for at least one upper-case letter. Default: true.
	RequireUpper bool `json:"require_upper"`
	// RequireDigit asks for at least one digit. Default: true.
	RequireDigit bool `json:"require_digit"`
	// RequireSymbol asks for at least one character that is neither a
	// letter nor a digit. Default: false.
	RequireSymbol bool `json:"require_symbol"`
	// ForbidUsername refuses passwords that contain the username, ignoring
	// case. Usernames shorter than 3 characters are not looked for.
	// Default: true.
	ForbidUsername bool `json:"forbid_username"`
}

// DefaultPasswordRules returns the rules used when none are configured:
// 8 to 256 characters with a lower-case letter, an upper-case letter and a
// digit, not containing the username.
func DefaultPasswordRules() PasswordRules {
	return PasswordRules{
		MinLength:      DefaultMinPasswordLength,
		MaxLength:      DefaultMaxPasswordLength,
		RequireLower:   true,
		RequireUpper:   true,
		RequireDigit:   true,
		RequireSymbol:  false,
		ForbidUsername: true,
	}
}

// Bounds returns the shortest and the longest password the rules allow,
// the defaults filled in.
func (r PasswordRules) Bounds() (lo, hi int) { return r.bounds() }

func (r PasswordRules) bounds() (lo, hi int) {
	lo, hi = r.MinLength, r.MaxLength
	if lo <= 0 {
		lo = DefaultMinPasswordLength
	}
	if hi <= 0 {
		hi = DefaultMaxPasswordLength
	}
	return lo, hi
}

// Check returns nil when password follows the rules for the user username,
// or an error wrapping ErrWeakPassword that lists, in plain words, every rule
// it breaks. Length is counted in characters (runes), not bytes.
func (r PasswordRules) Check(password, username string) error {
	needs, mustNot := r.unmetRules(password, username)
	if len(needs) == 0 && len(mustNot) == 0 {
		return nil
	}
	return &weakPasswordError{needs, mustNot}
}

// Rule is one rule a password breaks, in English as a printf format and
// its arguments: what it lacks ("at least %d characters", 8) or what it
// must not be ("must not contain the username").
type Rule struct {
	Format string
	Args   []any
}

// String is the rule in English.
func (r Rule) String() string { return fmt.Sprintf(r.Format, r.Args...) }

// weakPasswordError is a plain sentence saying every rule a password
// breaks ("the password must have at least 8 characters and a digit"); it
// matches ErrWeakPassword with errors.Is.
type weakPasswordError struct{ needs, mustNot []Rule }

func (e *weakPasswordError) Error() string {
	var parts []string
	if len(e.needs) > 0 {
		parts = append(parts, "must have "+joinAnd(rulesText(e.needs)))
	}
	parts = append(parts, rulesText(e.mustNot)...)
	return "the password " + strings.Join(parts, ", and ")
}

func (e *weakPasswordError) Is(target error) bool { return target == ErrWeakPassword }

// BrokenRules are the rules the password breaks: what it lacks and what
// it must not be, so that pages can say them in their language.
func (e *weakPasswordError) BrokenRules() (needs, mustNot []Rule) { return e.needs, e.mustNot }

// rulesText is rules in English.
func rulesText(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.String()
	}
	return out
}

// Unmet returns, in plain words, every rule password breaks for the user
// username, for forms that show them one per line; nil when it follows them
// all.
func (r PasswordRules) Unmet(password, username string) []string {
	needs, mustNot := r.unmetRules(password, username)
	return append(rulesText(needs), rulesText(mustNot)...)
}

// unmetRules returns what the password lacks ("an upper-case letter") and
// what it must not be ("must not contain the username").
func (r PasswordRules) unmetRules(password, username string) (needs, mustNot []Rule) {
	lo, hi := r.bounds()
	var lower, upper, digit, symbol bool
	for _, c := range password {
		switch {
		case unicode.IsLower(c):
			lower = true
		case unicode.IsUpper(c):
			upper = true
		case unicode.IsDigit(c):
			digit = true
		case !unicode.IsLetter(c):
			symbol = true
		}
	}
	n := utf8.RuneCountInString(password)
	if n < lo {
		needs = append(needs, Rule{Format: "at least %d characters", Args: []any{lo}})
	}
	if r.RequireLower && !lower {
		needs = append(needs, Rule{Format: "a lower-case letter"})
	}
	if r.RequireUpper && !upper {
		needs = append(needs, Rule{Format: "an upper-case letter"})
	}
	if r.RequireDigit && !digit {
		needs = append(needs, Rule{Format: "a digit"})
	}
	if r.RequireSymbol && !symbol {
		needs = append(needs, Rule{Format: "a symbol"})
	}
	if n > hi {
		mustNot = append(mustNot, Rule{Format: "must not be longer than %d characters", Args: []any{hi}})
	}
	u := strings.ToLower(strings.TrimSpace(username))
	if r.ForbidUsername && utf8.RuneCountInString(u) >= minForbiddenUsername &&
		strings.Contains(strings.ToLower(password), u) {
		mustNot = append(mustNot, Rule{Format: "must not contain the username"})
	}
	return needs, mustNot
}

// Describe returns the rules as one sentence for forms, such as
// "8 to 256 characters, with a lower-case letter, an upper-case letter and a
// digit, not containing your username."
func (r PasswordRules) Describe() string {
	lo, hi := r.bounds()
	var b strings.Builder
	fmt.Fprintf(&b, "%d to %d characters", lo, hi)
	var with []string
	if r.RequireLower {
		with = append(with, "a lower-case letter")
	}
	if r.RequireUpper {
		with = append(with, "an upper-case letter")
	}
	if r.RequireDigit {
		with = append(with, "a digit")
	}
	if r.RequireSymbol {
		with = append(with, "a symbol")
	}
	if len(with) > 0 {
		b.WriteString(", with ")
		b.WriteString(joinAnd(with))
	}
	if r.ForbidUsername {
		b.WriteString(", not containing your username")
	}
	b.WriteString(".")
	return b.String()
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
