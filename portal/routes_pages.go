package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// pageRoutes adds the HTML pages of the self-service and admin portal.
// Each admin page checks the same permission as the JSON API call it
// mirrors (api_admin.go) and calls the same service method; every POST of a
// signed-in user carries the session's CSRF token (see signedIn).
func (s *Service) pageRoutes(mux *http.ServeMux) {
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
	mux.HandleFunc("POST /profile/password", s.signedInExpired(s.handlePasswordForm))
	mux.HandleFunc("POST /profile/sessions/{id}/revoke", s.signedIn("", s.handleRevokeOwnSession))
	mux.HandleFunc("POST /profile/sessions/revoke-others", s.signedIn("", s.handleRevokeOtherSessions))
	mux.HandleFunc("POST /profile/totp", s.signedIn("", s.handleProfileTOTPBegin))
	mux.HandleFunc("POST /profile/totp/confirm", s.signedIn("", s.handleProfileTOTPConfirm))
	mux.HandleFunc("POST /profile/totp/remove", s.signedIn("", s.handleProfileTOTPRemove))
	mux.HandleFunc("POST /profile/backup-codes", s.signedIn("", s.handleProfileBackupCodes))
	mux.HandleFunc("POST /profile/keys", s.signedIn("", s.handleProfileKeyCreate))
	mux.HandleFunc("POST /profile/keys/{id}/revoke", s.signedIn("", s.handleProfileKeyRevoke))
	mux.HandleFunc("POST /profile/webauthn/{id}/rename", s.signedIn("", s.handleProfileKeyRename))
	mux.HandleFunc("POST /profile/webauthn/{id}/remove", s.signedIn("", s.handleProfileKeyRemove))
	mux.HandleFunc("POST /profile/oidc/{provider}/link", s.signedIn("", s.handleOIDCLinkStart))
	mux.HandleFunc("POST /profile/oidc/{provider}/unlink", s.signedIn("", s.handleOIDCUnlink))

	// Users.
	mux.HandleFunc("GET /admin/users", s.signedIn(policies.PermUsersRead, s.handleUsers))
	mux.HandleFunc("GET /admin/users/new", s.signedIn(policies.PermUsersWrite, s.handleNewUserPage))
	mux.HandleFunc("POST /admin/users/new", s.signedIn(policies.PermUsersWrite, s.handleNewUserForm))
	mux.HandleFunc("GET /admin/users/import", s.signedIn(policies.PermUsersWrite, s.handleImportPage))
	mux.HandleFunc("POST /admin/users/import", s.signedIn(policies.PermUsersWrite, s.handleImportForm))
	mux.HandleFunc("GET /admin/users/{user}", s.signedIn(policies.PermUsersRead, s.handleUser))
	mux.HandleFunc("POST /admin/users/{user}/details", s.signedIn(policies.PermUsersWrite, s.handleUserDetails))
	mux.HandleFunc("POST /admin/users/{user}/role", s.signedIn(policies.PermUsersWrite, s.handleUserRole))
	mux.HandleFunc("POST /admin/users/{user}/groups", s.signedIn(policies.PermUsersWrite, s.handleUserGroups))
	mux.HandleFunc("POST /admin/users/{user}/status", s.signedIn(policies.PermUsersWrite, s.handleUserStatus))
	mux.HandleFunc("POST /admin/users/{user}/delete", s.signedIn(policies.PermUsersWrite, s.handleUserDelete))
	mux.HandleFunc("POST /admin/users/{user}/password", s.signedIn(policies.PermUsersWrite, s.handleUserPassword))
	mux.HandleFunc("POST /admin/users/{user}/reset-link", s.signedIn(policies.PermUsersWrite, s.handleUserResetLink))
	mux.HandleFunc("POST /admin/users/{user}/unlock", s.signedIn(policies.PermUsersWrite, s.handleUserUnlock))
	mux.HandleFunc("POST /admin/users/{user}/2fa/reset", s.signedIn(policies.PermUsersWrite, s.handleUserResetFactors))
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
