package core

import "fmt"

// impersonatingError refuses what an impersonation session may not do.
type impersonatingError struct{ msg string }

var (
	// ErrImpersonating refuses credential changes while impersonating
	// (403 "not while impersonating").
	ErrImpersonating error = &impersonatingError{"not while impersonating"}
	// ErrNestedImpersonation refuses starting a second impersonation.
	ErrNestedImpersonation error = &impersonatingError{"not while impersonating: stop first"}
	// ErrNotImpersonating: a stop without an impersonation (409).
	ErrNotImpersonating = fmt.Errorf("you are not impersonating anyone: %w", ErrConflict)
)

func (e *impersonatingError) Error() string { return e.msg }

func (e *impersonatingError) Unwrap() error { return ErrForbidden }
