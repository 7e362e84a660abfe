package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// settingsKey names the stored settings.
const settingsKey = "settings"

// Defaults of the stored policies that the Caddyfile does not set.
const (
	DefaultLockoutThreshold = 5
	DefaultLockoutDuration  = 30 * time.Minute
	DefaultInviteLifetime   = 72 * time.Hour
	DefaultResetLifetime    = time.Hour
	DefaultAuditRetention   = 365 * 24 * time.Hour
	// DefaultImpersonationLifetime bounds an impersonation (see
	// impersonation.go).
	DefaultImpersonationLifetime = time.Hour
	// DefaultTempPasswordLifetime is how long a temporary password works
	// (see temppassword.go).
	DefaultTempPasswordLifetime = time.Hour
)

// Settings are the policies an admin changes in the portal. The Caddyfile
// gives the defaults; stored values win.
type Settings struct {
	// SessionIdle ends a session after this long without a request.
	SessionIdle Duration `json:"session_idle"`
	// SessionLifetime ends a session this long after sign-in.
	SessionLifetime Duration `json:"session_lifetime"`
	// SessionRemember is the lifetime of a "keep me signed in" session.
	SessionRemember Duration `json:"session_remember"`
	// LockoutThreshold locks an account after this many failed sign-ins
	// in a row (0 turns lockout off).
	LockoutThreshold int `json:"lockout_threshold"`
	// LockoutDuration is how long a locked account stays locked.
	LockoutDuration Duration `json:"lockout_duration"`
	// PasswordRules apply to every new password.
	PasswordRules policies.PasswordRules `json:"password_rules"`
	// PasswordMaxAge, when not zero, makes users change a password older
	// than this at their next sign-in.
	PasswordMaxAge Duration `json:"password_max_age"`
	// Require2FA makes a second factor mandatory for everyone: switching
	// it on ends every session of users without one, and they must set
	// one up at their next sign-in.
	Require2FA bool `json:"require_2fa"`
	// LockProfile stops users from editing their own name and email.
	LockProfile bool `json:"lock_profile"`
	// InviteLifetime is how long an invitation link works.
	InviteLifetime Duration `json:"invite_lifetime"`
	// ResetLifetime is how long a password-reset link works.
	ResetLifetime Duration `json:"reset_lifetime"`
	// AuditRetention is how long audit events are kept.
	AuditRetention Duration `json:"audit_retention"`
	// ImpersonationLifetime is the longest an impersonation lasts (never
	// beyond the end of the impersonator's own session).
	ImpersonationLifetime Duration `json:"impersonation_lifetime"`
	// TempPasswordLifetime is how long a temporary password made by an
	// administrator works.
	TempPasswordLifetime Duration `json:"temp_password_lifetime"`
	// NotifyImpersonation e-mails a user when an administrator starts
	// impersonating them (off by default).
	NotifyImpersonation bool `json:"notify_impersonation"`
	// BrandName is the product name pages and e-mails show (1 to 64
	// characters, one line; default "Gatehouse").
	BrandName string `json:"brand_name"`
	// BrandAccent is the accent colour of buttons and links, "#rrggbb",
	// dark enough for white text on it; "" keeps the built-in colours.
	BrandAccent string `json:"brand_accent"`
	// SignInMessage is plain text the sign-in page shows (at most 500
	// characters, line breaks kept); "" shows none.
	SignInMessage string `json:"sign_in_message"`
	// DefaultLanguage is the language of e-mails to users without one in
	// their profile, and of pages when the browser asks for none of the
	// supported languages: "en" (when empty), "de" or "fr".
	DefaultLanguage string `json:"default_language,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("1h30m") and read from a string or a number of seconds.
type Duration time.Duration

// MarshalJSON writes d as a string such as "720h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90m", "720h" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var sec float64
	if err := json.Unmarshal(b, &sec); err == nil {
		*d = Duration(time.Duration(sec * float64(time.Second)))
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return errors.New(`a duration is a string like "90m" or "720h", or a number of seconds`)
	}
	v, err := ParseDuration(str)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration accepts Go durations plus a "d" suffix for days ("90d").
func ParseDuration(str string) (time.Duration, error) {
	str = strings.TrimSpace(str)
	if n, ok := strings.CutSuffix(str, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(str)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: 30m, 12h, 90d)", str)
	}
	return v, nil
}

// loadSettings reads the stored settings over the defaults.
func (c *Core) loadSettings() error {
	st := c.defaults
	if err := c.store.Setting(settingsKey, &st); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("core: load settings: %w", err)
	}
	c.settings.Store(&st)
	return c.loadBrandLogo()
}

// Settings returns the settings in force. The caller must not change them.
func (c *Core) Settings() *Settings { return c.settings.Load() }

// PasswordRules returns the password rules in force.
func (c *Core) PasswordRules() policies.PasswordRules { return c.Settings().PasswordRules }

// SaveSettings stores st (checked with Validate) and puts it in force.
func (c *Core) SaveSettings(st *Settings) error {
	if err := c.store.PutSetting(settingsKey, st); err != nil {
		return fmt.Errorf("core: store settings: %w", err)
	}
	c.settings.Store(st)
	return nil
}

// PasswordExpired reports whether a password set at changedAt must be
// changed before its user does anything else.
func (c *Core) PasswordExpired(changedAt time.Time) bool {
	max := time.Duration(c.Settings().PasswordMaxAge)
	return max > 0 && !changedAt.IsZero() && c.now().Sub(changedAt) >= max
}

// Validate checks st and returns the first problem as an *InputError.
func (st *Settings) Validate() error {
	positive := []struct {
		name string
		d    Duration
		min  time.Duration
	}{
		{"session_idle", st.SessionIdle, time.Minute},
		{"session_lifetime", st.SessionLifetime, time.Minute},
		{"session_remember", st.SessionRemember, time.Minute},
		{"lockout_duration", st.LockoutDuration, time.Minute},
		{"invite_lifetime", st.InviteLifetime, time.Minute},
		{"reset_lifetime", st.ResetLifetime, time.Minute},
		{"audit_retention", st.AuditRetention, 24 * time.Hour},
		{"impersonation_lifetime", st.ImpersonationLifetime, time.Minute},
		{"temp_password_lifetime", st.TempPasswordLifetime, time.Minute},
	}
	for _, p := range positive {
		if time.Duration(p.d) < p.min {
			return Input(p.name, "must be at least %v", p.min)
		}
	}
	if !i18n.Valid(st.DefaultLanguage) {
		return Input("default_language", "must be one of %v", i18n.Supported)
	}
	switch {
	case st.LockoutThreshold < 0 || st.LockoutThreshold > 100:
		return Input("lockout_threshold", "must be between 0 (off) and 100")
	case st.PasswordRules.MinLength != 0 && (st.PasswordRules.MinLength < 8 || st.PasswordRules.MinLength > 128):
		return Input("password_rules", "min_length must be between 8 and 128")
	case st.PasswordRules.MaxLength != 0 && (st.PasswordRules.MaxLength < st.PasswordRules.MinLength || st.PasswordRules.MaxLength > 1024):
		return Input("password_rules", "max_length must be between min_length and 1024")
	case st.PasswordMaxAge != 0 && time.Duration(st.PasswordMaxAge) < 24*time.Hour:
		return Input("password_max_age", "must be 0 (off) or at least one day")
	}
	return st.validateBrand()
}

// Defaults returns the settings before anything is stored: the
// Caddyfile's values and the built-in defaults.
func (c *Core) Defaults() Settings { return c.defaults }
