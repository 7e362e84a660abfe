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
	mux.HandleFunc("GET /forgot", s.handleForgotPage)
	mux.HandleFunc("POST /forgot", s.throttled(s.handleForgotForm))
	mux.HandleFunc("GET /reset/{token}", s.handleResetPage)
	mux.HandleFunc("POST /reset/{token}", s.throttled(s.handleResetForm))
	mux.HandleFunc("GET /invite/{token}", s.handleInvitePage)
	mux.HandleFunc("POST /invite/{token}", s.throttled(s.handleInviteForm))
	mux.HandleFunc("GET /owner-login/{token}", s.handleOwnerLoginPage)
	mux.HandleFunc("POST /owner-login/{token}", s.throttled(s.handleOwnerLoginForm))

	// The second step of a sign-in, and the setup mandatory 2FA needs.
	mux.HandleFunc("GET /login/2fa", s.handleSecondStepPage)
	mux.HandleFunc("POST /login/2fa", s.throttled(s.handleSecondStepForm))
	mux.HandleFunc("GET /login/enroll", s.handleEnrollPage)
	mux.HandleFunc("POST /login/enroll", s.throttled(s.handleEnrollForm))

	// The caller's own account.
	mux.HandleFunc("GET /profile", s.signedIn("", s.handleProfile))
	mux.HandleFunc("POST /profile", s.signedIn("", s.handleProfileForm))
	mux.HandleFunc("GET /profile/password", s.signedInExpired(s.handlePasswordPage))
	mux.Handle("POST /profile/password", s.ownCredential(s.signedInExpired(s.handlePasswordForm)))
	mux.Handle("POST /profile/sessions/{id}/revoke", s.notCredential(s.signedIn("", s.handleRevokeOwnSession)))
	mux.Handle("POST /profile/sessions/revoke-others", s.notCredential(s.signedIn("", s.handleRevokeOtherSessions)))
	mux.Handle("POST /profile/totp", s.freshCredential(s.signedIn("", s.handleProfileTOTPBegin)))
	mux.Handle("POST /profile/totp/confirm", s.ownCredential(s.signedIn("", s.handleProfileTOTPConfirm)))
	mux.Handle("POST /profile/totp/remove", s.freshCredential(s.signedIn("", s.handleProfileTOTPRemove)))
	mux.Handle("POST /profile/backup-codes", s.freshCredential(s.signedIn("", s.handleProfileBackupCodes)))
	mux.Handle("POST /profile/keys", s.freshCredential(s.signedIn("", s.handleProfileKeyCreate)))
	mux.Handle("POST /profile/keys/{id}/revoke", s.ownCredential(s.signedIn("", s.handleProfileKeyRevoke)))
	mux.Handle("POST /profile/webauthn/{id}/rename", s.ownCredential(s.signedIn("", s.handleProfileKeyRename)))
	mux.Handle("POST /profile/webauthn/{id}/remove", s.freshCredential(s.signedIn("", s.handleProfileKeyRemove)))
	mux.Handle("POST /profile/oidc/{provider}/link", s.freshCredential(s.signedIn("", s.handleOIDCLinkStart)))
	mux.Handle("POST /profile/oidc/{provider}/unlink", s.freshCredential(s.signedIn("", s.handleOIDCUnlink)))

	// Users.
	mux.HandleFunc("GET /admin/users", s.signedIn(policies.PermUsersRead, s.handleUsers))
	mux.HandleFunc("GET /admin/users/new", s.signedIn(policies.PermUsersWrite, s.handleNewUserPage))
	mux.HandleFunc("POST /admin/users/new", s.signedIn(policies.PermUsersWrite, s.handleNewUserForm))
	mux.HandleFunc("GET /admin/users/import", s.signedIn(policies.PermUsersWrite, s.handleImportPage))
	mux.Handle("POST /admin/users/import", s.bodyLimit(maxImportBytes, s.signedIn(policies.PermUsersWrite, s.handleImportForm)))
	mux.HandleFunc("GET /admin/users/{user}", s.signedIn(policies.PermUsersRead, s.handleUser))
	mux.HandleFunc("POST /admin/users/{user}/details", s.signedIn(policies.PermUsersWrite, s.handleUserDetails))
	mux.HandleFunc("POST /admin/users/{user}/role", s.signedIn(policies.PermUsersWrite, s.handleUserRole))
	mux.HandleFunc("POST /admin/users/{user}/groups", s.signedIn(policies.PermUsersWrite, s.handleUserGroups))
	mux.HandleFunc("POST /admin/users/{user}/status", s.signedIn(policies.PermUsersWrite, s.handleUserStatus))
	mux.HandleFunc("POST /admin/users/{user}/delete", s.signedIn(policies.PermUsersWrite, s.handleUserDelete))
	mux.Handle("POST /admin/users/{user}/password", s.adminCredential(core.SelfPassword, s.signedIn(policies.PermUsersWrite, s.handleUserPassword)))
	mux.Handle("POST /admin/users/{user}/reset-link", s.adminCredential(core.SelfPassword, s.signedIn(policies.PermUsersWrite, s.handleUserResetLink)))
	mux.HandleFunc("POST /admin/users/{user}/unlock", s.signedIn(policies.PermUsersWrite, s.handleUserUnlock))
	mux.Handle("POST /admin/users/{user}/2fa/reset", s.adminCredential(core.SelfFactors, s.signedIn(policies.PermUsersWrite, s.handleUserResetFactors)))
	mux.HandleFunc("POST /admin/users/{user}/sessions/revoke", s.signedIn(policies.PermSessionsRevoke, s.handleUserRevokeSessions))
	mux.HandleFunc("POST /admin/users/{user}/sessions/{id}/revoke", s.signedIn("", s.handleUserRevokeSession))
	mux.HandleFunc("POST /admin/users/{user}/credentials/{kind}/{id}/revoke", s.signedIn(policies.PermUsersWrite, s.handleUserRevokeCredential))

	// Groups.
	mux.HandleFunc("GET /admin/groups", s.signedIn(policies.PermGroupsRead, s.handleGroups))
	mux.HandleFunc("POST /admin/groups", s.signedIn(policies.PermGroupsWrite, s.handleCreateGroup))
	mux.HandleFunc("GET /admin/groups/{group}", s.signedIn(policies.PermGroupsRead, s.handleGroup))
	mux.HandleFunc("POST /admin/groups/{group}/edit", s.signedIn(policies.PermGroupsWrite, s.handleEditGroup))
	mux.HandleFunc("POST /admin/groups/{group}/delete", s.signedIn(policies.PermGroupsWrite, s.handleDeleteGroup))
	mux.HandleFunc("POST /admin/groups/{group}/members", s.signedIn(policies.PermGroupsWrite, s.handleAddMember))
	mux.HandleFunc("POST /admin/groups/{group}/members/{user}/remove", s.signedIn(policies.PermGroupsWrite, s.handleRemoveMember))

	// Apps: operators of an app reach its page without apps.read, as in
	// the API; the handlers check.
	mux.HandleFunc("GET /admin/apps", s.signedIn("", s.handleApps))
	mux.HandleFunc("GET /admin/apps/{app}", s.signedIn("", s.handleApp))
	mux.HandleFunc("POST /admin/apps/{app}/access", s.signedIn("", s.handleAppAccess))
	mux.HandleFunc("POST /admin/apps/{app}/operators", s.signedIn("", s.handleAppOperators))

	// Roles.
	mux.HandleFunc("GET /admin/roles", s.signedIn(policies.PermRolesRead, s.handleRoles))
	mux.HandleFunc("POST /admin/roles", s.signedIn(policies.PermUsersRoles, s.handleCreateRole))
	mux.HandleFunc("GET /admin/roles/{role}", s.signedIn(policies.PermRolesRead, s.handleRole))
	mux.HandleFunc("POST /admin/roles/{role}", s.signedIn(policies.PermUsersRoles, s.handleEditRole))
	mux.HandleFunc("POST /admin/roles/{role}/delete", s.signedIn(policies.PermUsersRoles, s.handleDeleteRole))

	// Sessions ("online users"); anyone may end their own, as in the API.
	mux.HandleFunc("GET /admin/sessions", s.signedIn(policies.PermSessionsRead, s.handleSessions))
	mux.HandleFunc("POST /admin/sessions/{id}/revoke", s.signedIn("", s.handleRevokeSession))

	// Invitations.
	mux.HandleFunc("GET /admin/invitations", s.signedIn(policies.PermInvitationsRead, s.handleInvitations))
	mux.HandleFunc("POST /admin/invitations", s.signedIn(policies.PermInvitationsWrite, s.handleCreateInvitation))
	mux.HandleFunc("POST /admin/invitations/{id}/revoke", s.signedIn(policies.PermInvitationsWrite, s.handleRevokeInvitation))

	// Audit log.
	mux.HandleFunc("GET /admin/audit", s.signedIn(policies.PermAuditRead, s.handleAudit))

	// Settings.
	mux.HandleFunc("GET /admin/settings", s.signedIn(policies.PermSettingsRead, s.handleSettings))
	mux.HandleFunc("POST /admin/settings", s.signedIn(policies.PermSettingsWrite, s.handleSettingsForm))
	mux.HandleFunc("POST /admin/settings/test-email", s.signedIn(policies.PermSettingsWrite, s.handleTestMail))
}
