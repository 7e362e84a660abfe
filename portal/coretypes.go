package portal

import "github.com/gatehouse-auth/gatehouse/core"

// The core's types the portal's handlers and callers use by their old names.
type (
	// APIKeyView is core.APIKeyView.
	APIKeyView = core.APIKeyView
	// App is core.App.
	App = core.App
	// AppAccessInput is core.AppAccessInput.
	AppAccessInput = core.AppAccessInput
	// AppView is core.AppView.
	AppView = core.AppView
	// CredentialView is core.CredentialView.
	CredentialView = core.CredentialView
	// FactorsView is core.FactorsView.
	FactorsView = core.FactorsView
	// GroupInput is core.GroupInput.
	GroupInput = core.GroupInput
	// GroupView is core.GroupView.
	GroupView = core.GroupView
	// ImportResult is core.ImportResult.
	ImportResult = core.ImportResult
	// InvitationInput is core.InvitationInput.
	InvitationInput = core.InvitationInput
	// InvitationView is core.InvitationView.
	InvitationView = core.InvitationView
	// KeyInput is core.KeyInput.
	KeyInput = core.KeyInput
	// KeyView is core.KeyView.
	KeyView = core.KeyView
	// NewUser is core.NewUser.
	NewUser = core.NewUser
	// ProfileInput is core.ProfileInput.
	ProfileInput = core.ProfileInput
	// SessionView is core.SessionView.
	SessionView = core.SessionView
	// TOTPEnrollment is core.TOTPEnrollment.
	TOTPEnrollment = core.TOTPEnrollment
	// UserPatch is core.UserPatch.
	UserPatch = core.UserPatch
	// UserView is core.UserView.
	UserView = core.UserView
	// AppConfig is core.AppConfig.
	AppConfig = core.AppConfig
	// RoleInput is core.RoleInput.
	RoleInput = core.RoleInput
	// RoleView is core.RoleView.
	RoleView = core.RoleView
)
