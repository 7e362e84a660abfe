package core

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// Errors the core returns; every surface maps them the same way (the
// portal's ErrorStatus is the table).
var (
	// ErrNotFound: no such user, group, role, app, session or link.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the actor may not do this.
	ErrForbidden = policies.ErrForbidden
	// ErrConflict: the username or email address is taken, or the change
	// clashes with the current state.
	ErrConflict = errors.New("already exists")
	// ErrBusy: too many password checks are queued, or a sign-in's lockout
	// could not be read or written (the store is down); try again.
	ErrBusy = errors.New("busy, try again shortly")
	// ErrTooMany: one change would rewrite more records than the store
	// takes at once, e.g. renaming a group of many thousand members.
	ErrTooMany = errors.New("too many members to change in one step (a few thousand at most); move some to another group first")
)

// InputError is bad input, safe to show to the client.
type InputError struct {
	// Field is the input field the error is about ("" for the whole
	// input), as the JSON API names it.
	Field string
	// Msg says what is wrong, in English.
	Msg string
	// Format and Args are Msg before formatting (Msg is
	// fmt.Sprintf(Format, Args...)), so that a page can say it in its
	// reader's language: the message catalogue's core area has every
	// format of Input (see i18n.FormatID). Empty when Msg was made some
	// other way.
	Format string
	// Args are the arguments of Format.
	Args []any
}

// Error is the message as a plain clause a user can read: a message that
// only says what is wrong ("is required") gets the field's name in front
// ("the username is required"); a message that names its subject is kept.
func (e *InputError) Error() string {
	if e.Field == "" || !isFragment(e.Msg) {
		return e.Msg
	}
	return "the " + FieldName(e.Field) + " " + e.Msg
}

// Input returns an *InputError about field.
func Input(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// IsFragment reports whether msg only says what is wrong ("is required")
// and so needs its field's name in front.
func IsFragment(msg string) bool { return isFragment(msg) }

// isFragment reports whether msg starts with a verb and needs a subject.
func isFragment(msg string) bool {
	for _, verb := range []string{"is ", "are ", "must ", "may ", "has ", "needs "} {
		if strings.HasPrefix(msg, verb) {
			return true
		}
	}
	return false
}

// FieldName is how a message names field: the form's label, in lower case.
func FieldName(field string) string {
	label, ok := FieldLabels[field]
	if !ok {
		return strings.ReplaceAll(field, "_", " ")
	}
	if r := []rune(label); len(r) > 1 && unicode.IsUpper(r[0]) && !unicode.IsUpper(r[1]) {
		label = string(unicode.ToLower(r[0])) + string(r[1:])
	}
	return label
}

// FieldLabels name the input fields as the portal's forms label them, so
// an error reads the same in the JSON API and beside a form field.
var FieldLabels = map[string]string{
	"username": "Username", "email": "Email", "fallback_email": "Fallback email", "full_name": "Full name",
	"role": "Role", "groups": "Groups", "password": "Password", "current_password": "Current password",
	"expires_at": "Expiry date", "name": "Name", "description": "Description",
	"allow_groups": "Allowed groups", "allow_users": "Allowed users", "operators": "Operators",
	"permissions": "Permissions", "to": "Recipient", "user": "User", "action": "Action", "since": "From",
	"until": "To", "session_idle": "Idle timeout", "session_lifetime": "Session lifetime",
	"session_remember": "“Keep me signed in” lifetime", "lockout_threshold": "Lockout threshold",
	"lockout_duration": "Lockout duration", "password_max_age": "Password maximum age",
	"password_rules": "Password rules", "min_length": "Minimum length", "max_length": "Maximum length",
	"invite_lifetime": "Invitation lifetime", "reset_lifetime": "Reset link lifetime",
	"audit_retention": "Audit retention", "impersonation_lifetime": "Impersonation lifetime",
	"temp_password_lifetime": "Temporary password lifetime",
	"brand_name":             "Product name", "brand_accent": "Accent colour", "sign_in_message": "Sign-in message", "logo": "Logo",
	"language": "Language", "time_zone": "Time zone", "default_language": "Default language",
}

// ConflictError is a conflict with its own message.
type ConflictError struct {
	// Msg is the message, in English.
	Msg string
	// Format and Args are Msg before formatting, for pages to say it in
	// their language (see InputError); empty when made otherwise.
	Format string
	// Args are the arguments of Format.
	Args []any
}

// conflictMsg returns a *ConflictError whose message is
// fmt.Sprintf(format, args...).
func conflictMsg(format string, args ...any) *ConflictError {
	return &ConflictError{Msg: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// WrapError is a refusal that wraps one of the sentinel errors, such as
// ErrConflict, with a message of its own: its text is exactly that of
// fmt.Errorf(Format+": %w", Args..., Sentinel), and it keeps the format
// and its arguments for pages to say it in their language (see
// InputError).
type WrapError struct {
	// Format and Args make the message before the sentinel's.
	Format string
	// Args are the arguments of Format.
	Args []any
	// Sentinel is the error wrapped: ErrConflict or ErrNotFound.
	Sentinel error
}

// Error is the message, then ": " and the sentinel's.
func (e *WrapError) Error() string {
	return fmt.Sprintf(e.Format, e.Args...) + ": " + e.Sentinel.Error()
}

// Unwrap is the sentinel.
func (e *WrapError) Unwrap() error { return e.Sentinel }

// NotFoundf returns an ErrNotFound about what fmt.Sprintf(format, args...)
// names ("user %q").
func NotFoundf(format string, args ...any) error {
	return &WrapError{Format: format, Args: args, Sentinel: ErrNotFound}
}

// Conflictf returns a conflict (an ErrConflict) that says
// fmt.Sprintf(format, args...).
func Conflictf(format string, args ...any) error {
	return &WrapError{Format: format, Args: args, Sentinel: ErrConflict}
}

// Error is the conflict's own message.
func (e *ConflictError) Error() string { return e.Msg }

// Unwrap makes a ConflictError an ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }
