package portal

import (
	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// pageRoutes adds the HTML pages of the self-service and admin portal.
// Each admin page checks the same permission as the JSON API call it
// mirrors (api_admin.go) and calls the same service method; every POST of a
// signed-in user carries the session's CSRF token (see signedIn).
func (s *Service) pageRoutes(mux *routeMux) {
	// Public pages: no session, so CrossOriginProtection guards their forms.
	mux.HandleFunc("GET /forgot", s.signInUI().handleForgotPage)
	mux.HandleFunc("POST /forgot", s.throttled(s.signInUI().handleForgotForm))
	mux.HandleFunc("GET /reset/{token}", s.signInUI().handleResetPage)
	mux.HandleFunc("POST /reset/{token}", s.throttled(s.signInUI().handleResetForm))
	mux.HandleFunc("GET /invite/{token}", s.usersUI().handleInvitePage)
	mux.HandleFunc("POST /invite/{token}", s.throttled(s.usersUI().handleInviteForm))
	mux.HandleFunc("GET /owner-login/{token}", s.signInUI().handleOwnerLoginPage)
	mux.HandleFunc("POST /owner-login/{token}", s.throttled(s.signInUI().handleOwnerLoginForm))

	// The second step of a sign-in, and the setup mandatory 2FA needs.
	mux.HandleFunc("GET /login/2fa", s.secondStepUI().handleSecondStepPage)
	mux.HandleFunc("POST /login/2fa", s.throttled(s.secondStepUI().handleSecondStepForm))
	mux.HandleFunc("GET /login/enroll", s.secondStepUI().handleEnrollPage)
	mux.HandleFunc("POST /login/enroll", s.throttled(s.secondStepUI().handleEnrollForm))
	// The one-time code for an app's guard on another domain (crossdomain_pages.go).
	mux.HandleFunc("GET "+HandoffPagePath, handoffUI{s}.handleHandoff)

	// The interactive step of the OpenID Connect provider's /authorize.
	mux.HandleFunc("GET /oidc/continue", s.signInUI().handleOIDCContinue)
	mux.Handle("POST /oidc/continue", s.notCredential(s.signedIn("", oidcConsentUI{s}.handleConsent)))

	// The caller's own account.
	mux.HandleFunc("GET /profile", s.signedIn("", s.accountUI().handleProfile))
	mux.HandleFunc("POST /profile", s.signedIn("", s.accountUI().handleProfileForm))
	mux.HandleFunc("GET /profile/password", s.signedInExpired(s.accountUI().handlePasswordPage))
	mux.Handle("POST /profile/password", s.ownCredential(s.signedInExpired(s.accountUI().handlePasswordForm)))
	mux.Handle("POST /profile/sessions/{id}/revoke", s.notCredential(s.signedIn("", s.accountUI().handleRevokeOwnSession)))
	mux.Handle("POST /profile/sessions/revoke-others", s.notCredential(s.signedIn("", s.accountUI().handleRevokeOtherSessions)))
	mux.Handle("POST /profile/totp", s.freshCredential(s.signedIn("", s.secondStepUI().handleProfileTOTPBegin)))
	mux.Handle("POST /profile/totp/confirm", s.ownCredential(s.signedIn("", s.secondStepUI().handleProfileTOTPConfirm)))
	mux.Handle("POST /profile/totp/remove", s.freshCredential(s.signedIn("", s.secondStepUI().handleProfileTOTPRemove)))
	mux.Handle("POST /profile/backup-codes", s.freshCredential(s.signedIn("", s.secondStepUI().handleProfileBackupCodes)))
	mux.Handle("POST /profile/keys", s.freshCredential(s.signedIn("", s.accessUI().handleProfileKeyCreate)))
	mux.Handle("POST /profile/keys/{id}/revoke", s.ownCredential(s.signedIn("", s.accessUI().handleProfileKeyRevoke)))
	mux.Handle("POST /profile/webauthn/{id}/rename", s.ownCredential(s.signedIn("", s.accountUI().handleProfileKeyRename)))
	mux.Handle("POST /profile/webauthn/{id}/remove", s.freshCredential(s.signedIn("", s.accountUI().handleProfileKeyRemove)))
	mux.Handle("POST /profile/oidc/{provider}/link", s.freshCredential(s.signedIn("", s.accountUI().handleOIDCLinkStart)))
	mux.Handle("POST /profile/oidc/{provider}/unlink", s.freshCredential(s.signedIn("", s.accountUI().handleOIDCUnlink)))
	mux.Handle("POST /profile/app-passwords", s.freshCredential(s.signedIn("", s.accountUI().handleProfileAppPasswordCreate)))
	mux.Handle("POST /profile/connected-apps/{app}/revoke", s.ownCredential(s.signedIn("", oidcConsentUI{s}.handleProfileRevoke)))
	mux.Handle("POST /profile/app-passwords/{id}/revoke", s.ownCredential(s.signedIn("", s.accountUI().handleProfileAppPasswordRevoke)))
	mux.Handle("POST /profile/ssh-keys", s.freshCredential(s.signedIn("", s.accountUI().handleProfileSSHKeyAdd)))
	mux.Handle("POST /profile/ssh-keys/remove", s.ownCredential(s.signedIn("", s.accountUI().handleProfileSSHKeyRemove)))
	mux.Handle("POST /profile/security-emails", s.notCredential(s.signedIn("", s.accountUI().handleProfileMailPrefs)))
	mux.Handle("POST /profile/language", s.notCredential(s.signedIn("", s.accountUI().handleProfileLanguage)))

	// Users.
	mux.HandleFunc("GET /admin/users", s.signedIn(policies.PermUsersRead, s.usersUI().handleUsers))
	mux.HandleFunc("GET /admin/users/new", s.signedIn(policies.PermUsersWrite, s.usersUI().handleNewUserPage))
	mux.HandleFunc("POST /admin/users/new", s.signedIn(policies.PermUsersWrite, s.usersUI().handleNewUserForm))
	mux.HandleFunc("GET /admin/users/import", s.signedIn(policies.PermUsersWrite, s.usersUI().handleImportPage))
	mux.Handle("POST /admin/users/import", s.bodyLimit(maxImportBytes, s.signedIn(policies.PermUsersWrite, s.usersUI().handleImportForm)))
	mux.HandleFunc("POST /admin/directory/sync", s.signedIn(policies.PermUsersWrite, s.usersUI().handleDirectorySync))
	mux.HandleFunc("GET /admin/users/{user}", s.signedIn(policies.PermUsersRead, s.usersUI().handleUser))
	mux.HandleFunc("POST /admin/users/{user}/details", s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserDetails))
	mux.HandleFunc("POST /admin/users/{user}/role", s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserRole))
	mux.HandleFunc("POST /admin/users/{user}/groups", s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserGroups))
	mux.HandleFunc("POST /admin/users/{user}/status", s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserStatus))
	mux.HandleFunc("POST /admin/users/{user}/delete", s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserDelete))
	mux.Handle("POST /admin/users/{user}/password", s.adminCredential(core.SelfPassword, s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserPassword)))
	mux.Handle("POST /admin/users/{user}/reset-link", s.adminCredential(core.SelfPassword, s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserResetLink)))
	mux.HandleFunc("POST /admin/users/{user}/unlock", s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserUnlock))
	mux.Handle("POST /admin/users/{user}/2fa/reset", s.adminCredential(core.SelfFactors, s.signedIn(policies.PermUsersWrite, s.secondStepUI().handleUserResetFactors)))
	mux.HandleFunc("POST /admin/users/{user}/sessions/revoke", s.signedIn(policies.PermSessionsRevoke, s.usersUI().handleUserRevokeSessions))
	mux.HandleFunc("POST /admin/users/{user}/sessions/{id}/revoke", s.signedIn("", s.usersUI().handleUserRevokeSession))
	mux.HandleFunc("POST /admin/users/{user}/credentials/{kind}/{id}/revoke", s.signedIn(policies.PermUsersWrite, s.adminAPI().handleUserRevokeCredential))
	mux.Handle("POST /admin/users/{user}/app-passwords/{id}/revoke", s.adminCredential(core.SelfAppPasswords, s.signedIn(policies.PermUsersWrite, s.usersUI().handleUserAppPasswordRevoke)))

	// Groups.
	mux.HandleFunc("GET /admin/groups", s.signedIn(policies.PermGroupsRead, s.accessUI().handleGroups))
	mux.HandleFunc("POST /admin/groups", s.signedIn(policies.PermGroupsWrite, s.accessUI().handleCreateGroup))
	mux.HandleFunc("GET /admin/groups/{group}", s.signedIn(policies.PermGroupsRead, s.accessUI().handleGroup))
	mux.HandleFunc("POST /admin/groups/{group}/edit", s.signedIn(policies.PermGroupsWrite, s.accessUI().handleEditGroup))
	mux.HandleFunc("POST /admin/groups/{group}/delete", s.signedIn(policies.PermGroupsWrite, s.accessUI().handleDeleteGroup))
	mux.HandleFunc("POST /admin/groups/{group}/members", s.signedIn(policies.PermGroupsWrite, s.accessUI().handleAddMember))
	mux.HandleFunc("POST /admin/groups/{group}/members/{user}/remove", s.signedIn(policies.PermGroupsWrite, s.accessUI().handleRemoveMember))

	// Apps: operators of an app reach its page without apps.read, as in
	// the API; the handlers check.
	mux.HandleFunc("GET /admin/apps", s.signedIn("", s.accessUI().handleApps))
	mux.HandleFunc("GET /admin/apps/{app}", s.signedIn("", s.accessUI().handleApp))
	mux.HandleFunc("POST /admin/apps/{app}/access", s.signedIn("", s.accessUI().handleAppAccess))
	mux.HandleFunc("POST /admin/apps/{app}/operators", s.signedIn("", s.accessUI().handleAppOperators))
	// Apps made in the portal; the core refuses an impersonation (see the
	// API routes in routes.go).
	mux.HandleFunc("POST /admin/apps", s.signedIn(policies.PermAppsWrite, s.accessUI().handleAppCreate))
	mux.Handle("POST /admin/apps/{app}/oidc/secret", s.notCredential(s.signedIn(policies.PermAppsWrite, s.accessUI().handleAppSecret)))
	mux.HandleFunc("POST /admin/apps/{app}/delete", s.signedIn(policies.PermAppsWrite, s.accessUI().handleAppDelete))

	// Roles.
	mux.HandleFunc("GET /admin/roles", s.signedIn(policies.PermRolesRead, s.accessUI().handleRoles))
	mux.HandleFunc("POST /admin/roles", s.signedIn(policies.PermUsersRoles, s.accessUI().handleCreateRole))
	mux.HandleFunc("GET /admin/roles/{role}", s.signedIn(policies.PermRolesRead, s.accessUI().handleRole))
	mux.HandleFunc("POST /admin/roles/{role}", s.signedIn(policies.PermUsersRoles, s.accessUI().handleEditRole))
	mux.HandleFunc("POST /admin/roles/{role}/delete", s.signedIn(policies.PermUsersRoles, s.accessUI().handleDeleteRole))

	// Sessions ("online users"); anyone may end their own, as in the API.
	mux.HandleFunc("GET /admin/sessions", s.signedIn(policies.PermSessionsRead, s.accessUI().handleSessions))
	mux.HandleFunc("POST /admin/sessions/{id}/revoke", s.signedIn("", s.accessUI().handleRevokeSession))

	// Invitations.
	mux.HandleFunc("GET /admin/invitations", s.signedIn(policies.PermInvitationsRead, s.usersUI().handleInvitations))
	mux.HandleFunc("POST /admin/invitations", s.signedIn(policies.PermInvitationsWrite, s.usersUI().handleCreateInvitation))
	mux.HandleFunc("POST /admin/invitations/{id}/revoke", s.signedIn(policies.PermInvitationsWrite, s.usersUI().handleRevokeInvitation))

	// Audit log.
	mux.HandleFunc("GET /admin/audit", s.signedIn(policies.PermAuditRead, s.accessUI().handleAudit))

	// Settings.
	mux.HandleFunc("GET /admin/settings", s.signedIn(policies.PermSettingsRead, s.accessUI().handleSettings))
	mux.HandleFunc("POST /admin/settings", s.signedIn(policies.PermSettingsWrite, s.accessUI().handleSettingsForm))
	mux.HandleFunc("POST /admin/settings/test-email", s.signedIn(policies.PermSettingsWrite, s.accessUI().handleTestMail))
	mux.HandleFunc("POST /admin/settings/backup", s.signedIn(policies.PermSettingsWrite, s.accessUI().handleBackupNow))
	mux.HandleFunc("POST /admin/settings/branding", s.signedIn(policies.PermSettingsWrite, brandingAPI{s}.handleBrandingForm))
	mux.Handle("POST /admin/settings/logo", s.bodyLimit(maxLogoUploadBytes+64<<10, s.signedIn(policies.PermSettingsWrite, brandingAPI{s}.handleLogoForm)))
	mux.HandleFunc("POST /admin/settings/logo/remove", s.signedIn(policies.PermSettingsWrite, brandingAPI{s}.handleLogoRemove))

	// The directory server's bind clients (settings.write, as in the API).
	mux.HandleFunc("GET /admin/ldap", s.signedIn(policies.PermSettingsWrite, s.accessUI().handleLDAPClients))
	mux.Handle("POST /admin/ldap/clients", s.serviceCredential(s.signedIn(policies.PermSettingsWrite, s.accessUI().handleLDAPClientCreate)))
	mux.Handle("POST /admin/ldap/clients/{name}/delete", s.serviceCredential(s.signedIn(policies.PermSettingsWrite, s.accessUI().handleLDAPClientDelete)))
}
