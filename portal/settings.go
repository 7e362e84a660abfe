package portal

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// Defaults of the stored policies that the Caddyfile does not set.
const (
	DefaultLockoutThreshold      = core.DefaultLockoutThreshold
	DefaultLockoutDuration       = core.DefaultLockoutDuration
	DefaultInviteLifetime        = core.DefaultInviteLifetime
	DefaultResetLifetime         = core.DefaultResetLifetime
	DefaultAuditRetention        = core.DefaultAuditRetention
	DefaultImpersonationLifetime = core.DefaultImpersonationLifetime
	DefaultTempPasswordLifetime  = core.DefaultTempPasswordLifetime
)

// Settings are the policies an admin changes in the portal (core.Settings).
type Settings = core.Settings

// Duration is a settings duration (core.Duration).
type Duration = core.Duration

// cfg returns the settings in force.
func (s *Service) cfg() *Settings { return s.core.Settings() }

// passwordRules returns the password rules in force.
func (s *Service) passwordRules() policies.PasswordRules { return s.core.PasswordRules() }

// passwordExpired reports whether a password set at changedAt must be
// changed before its user does anything else.
func (s *Service) passwordExpired(changedAt time.Time) bool { return s.core.PasswordExpired(changedAt) }
