package portal

import (
	"github.com/gatehouse-auth/gatehouse/core"
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
