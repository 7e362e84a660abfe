package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// routes is the portal's one route table. Every route runs behind secure
// (security headers, CSRF protection) and a body limit: maxBodyBytes, or
// what the route declares with s.bodyLimit.
//
// Every /api/v1 route declares who may call it (routeaccess.go):
// s.public, s.api("", h) for any signed-in caller, s.api(perm, h) for a
// permission, s.ownSession for the few handlers that resolve the caller
// themselves.
//
// Every POST route that checks a secret without a session — a password, a
// second-factor code, a one-time link or setup token — is wrapped with
// s.throttled (per-client-IP attempts, throttle.go), here and in
// pageRoutes. That includes every second step of a sign-in: a new route
// under /login/ or /api/v1/login/ must be wrapped with s.throttled too.
// GET pages that only show a form are not, so viewing them costs no
// attempt.
//
// A route that changes a credential is registered with mux.Handle and
// declares its policy where it is registered: s.ownCredential,
// s.freshCredential (the caller's own password, factors, keys) or
// s.adminCredential (another user's); s.notCredential marks a route whose
// path only looks like one. TestRoutePolicies (routes_test.go) walks the
// table: a new credential-looking route without a policy, or a new route
// answering without a session that is not throttled, fails it.
func (s *Service) routes() http.Handler {
	return s.secure(s.withActorNote(s.routeMux()))
}

// routeMux is the route table (see routepolicy.go for the policies a route
// is declared with).
func (s *Service) routeMux() *routeMux {
	mux := newRouteMux()

	// Pages.
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.throttled(s.handleLoginForm))
	mux.HandleFunc("GET /logout", s.handleLogoutPage)
	mux.HandleFunc("POST /logout", s.handleLogoutForm)
	mux.HandleFunc("GET /setup", s.handleSetupPage)
	mux.HandleFunc("POST /setup", s.throttled(s.handleSetupForm))
	mux.HandleFunc("GET /login/oidc/{provider}", s.throttled(s.handleOIDCStart))
	mux.HandleFunc("GET /login/oidc/{provider}/callback", s.throttled(s.handleOIDCCallback))
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServer(staticFS())))

	// JSON API v1.
	mux.Handle("POST /api/v1/login", s.public(s.throttled(s.apiLogin)))
	mux.Handle("POST /api/v1/logout", s.public(s.apiLogout))
	mux.Handle("POST /api/v1/login/totp", s.public(s.throttled(s.apiLoginCode(core.MethodTOTP))))
	mux.Handle("POST /api/v1/login/backup-code", s.public(s.throttled(s.apiLoginCode(core.MethodBackupCode))))
	mux.Handle("POST /api/v1/login/enroll/totp", s.public(s.throttled(s.apiLoginEnrollTOTP)))
	mux.Handle("POST /api/v1/login/enroll/totp/confirm", s.public(s.throttled(s.apiLoginEnrollConfirm)))
	mux.Handle("POST /api/v1/login/webauthn/begin", s.public(s.throttled(s.apiBeginKeyLogin)))
	mux.Handle("POST /api/v1/login/webauthn/finish", s.public(s.throttled(s.apiFinishKeyLogin)))
	mux.Handle("GET /api/v1/me/2fa", s.api("", s.apiMyFactors))
	mux.Handle("POST /api/v1/me/totp", s.freshCredential(s.apiBeginTOTP).api(""))
	mux.Handle("POST /api/v1/me/totp/confirm", s.ownCredential(s.apiConfirmTOTP).api(""))
	mux.Handle("DELETE /api/v1/me/totp", s.freshCredential(s.apiRemoveTOTP).api(""))
	mux.Handle("POST /api/v1/me/backup-codes", s.freshCredential(s.apiRegenerateBackupCodes).api(""))
	mux.Handle("POST /api/v1/me/webauthn/register/begin", s.freshCredential(s.apiBeginKeyRegistration).api(""))
	mux.Handle("POST /api/v1/me/webauthn/register/finish", s.ownCredential(s.apiFinishKeyRegistration).api(""))
	mux.Handle("PATCH /api/v1/me/webauthn/{id}", s.ownCredential(s.apiRenameKey).api(""))
	mux.Handle("DELETE /api/v1/me/webauthn/{id}", s.freshCredential(s.apiRemoveKey).api(""))
	mux.Handle("DELETE /api/v1/users/{user}/2fa", s.adminCredential(core.SelfFactors, s.apiResetFactors).api(policies.PermUsersWrite))
	mux.Handle("GET /api/v1/me", s.ownSession(s.apiMe))
	mux.Handle("PATCH /api/v1/me", s.api("", s.apiPatchMe))
	mux.Handle("POST /api/v1/me/password", s.ownCredential(s.apiChangePassword).ownSession())
	mux.Handle("GET /api/v1/me/sessions", s.api("", s.apiMySessions))
	mux.Handle("DELETE /api/v1/me/sessions", s.notCredential(s.apiRevokeMyOtherSessions).api(""))
	mux.Handle("GET /api/v1/me/identities", s.api("", s.apiMyIdentities))
	mux.Handle("DELETE /api/v1/me/identities/{provider}", s.freshCredential(s.apiUnlinkIdentity).api(""))
	mux.Handle("POST /api/v1/password/forgot", s.public(s.throttled(s.apiForgot)))

	mux.Handle("GET /api/v1/users", s.api(policies.PermUsersRead, s.apiListUsers))
	mux.Handle("POST /api/v1/users", s.api(policies.PermUsersWrite, s.apiCreateUser))
	mux.Handle("GET /api/v1/users/export", s.api(policies.PermUsersRead, s.apiExportUsers))
	mux.Handle("POST /api/v1/users/import", s.bodyLimit(maxImportBytes, s.api(policies.PermUsersWrite, s.apiImportUsers)))
	mux.Handle("GET /api/v1/users/{user}", s.api(policies.PermUsersRead, s.apiGetUser))
	mux.Handle("PATCH /api/v1/users/{user}", s.api(policies.PermUsersWrite, s.apiPatchUser))
	mux.Handle("DELETE /api/v1/users/{user}", s.api(policies.PermUsersWrite, s.apiDeleteUser))
	mux.Handle("POST /api/v1/users/{user}/password", s.adminCredential(core.SelfPassword, s.apiSetUserPassword).api(policies.PermUsersWrite))
	mux.Handle("POST /api/v1/users/{user}/reset-link", s.adminCredential(core.SelfPassword, s.apiResetLink).api(policies.PermUsersWrite))
	mux.Handle("POST /api/v1/users/{user}/unlock", s.api(policies.PermUsersWrite, s.apiUnlockUser))
	mux.Handle("GET /api/v1/users/{user}/sessions", s.api(policies.PermSessionsRead, s.apiUserSessions))
	mux.Handle("DELETE /api/v1/users/{user}/sessions", s.api(policies.PermSessionsRevoke, s.apiRevokeUserSessions))

	mux.Handle("GET /api/v1/groups", s.api(policies.PermGroupsRead, s.apiListGroups))
	mux.Handle("POST /api/v1/groups", s.api(policies.PermGroupsWrite, s.apiCreateGroup))
	mux.Handle("GET /api/v1/groups/{group}", s.api(policies.PermGroupsRead, s.apiGetGroup))
	mux.Handle("PATCH /api/v1/groups/{group}", s.api(policies.PermGroupsWrite, s.apiPatchGroup))
	mux.Handle("DELETE /api/v1/groups/{group}", s.api(policies.PermGroupsWrite, s.apiDeleteGroup))
	mux.Handle("PUT /api/v1/groups/{group}/members/{user}", s.api(policies.PermGroupsWrite, s.apiAddMember))
	mux.Handle("DELETE /api/v1/groups/{group}/members/{user}", s.api(policies.PermGroupsWrite, s.apiRemoveMember))

	mux.Handle("GET /api/v1/apps", s.api("", s.apiListApps))
	mux.Handle("GET /api/v1/apps/{app}", s.api("", s.apiGetApp))
	mux.Handle("PATCH /api/v1/apps/{app}", s.api("", s.apiPatchApp))

	mux.Handle("GET /api/v1/roles", s.api(policies.PermRolesRead, s.apiListRoles))
	mux.Handle("POST /api/v1/roles", s.api(policies.PermUsersRoles, s.apiCreateRole))
	mux.Handle("GET /api/v1/roles/{role}", s.api(policies.PermRolesRead, s.apiGetRole))
	mux.Handle("PATCH /api/v1/roles/{role}", s.api(policies.PermUsersRoles, s.apiPatchRole))
	mux.Handle("DELETE /api/v1/roles/{role}", s.api(policies.PermUsersRoles, s.apiDeleteRole))

	mux.Handle("GET /api/v1/sessions", s.api(policies.PermSessionsRead, s.apiListSessions))
	mux.Handle("DELETE /api/v1/sessions/{id}", s.api("", s.apiRevokeSession))

	mux.Handle("GET /api/v1/invitations", s.api(policies.PermInvitationsRead, s.apiListInvitations))
	mux.Handle("POST /api/v1/invitations", s.api(policies.PermInvitationsWrite, s.apiCreateInvitation))
	mux.Handle("DELETE /api/v1/invitations/{id}", s.api(policies.PermInvitationsWrite, s.apiRevokeInvitation))
	mux.Handle("GET /api/v1/reset-links", s.api("", s.apiListCredentials))
	// Revoking takes a way in away and gives none: owners only, checked
	// in the handler.
	mux.Handle("DELETE /api/v1/reset-links/{id}", s.notCredential(s.apiRevokeCredential).api(""))
	mux.Handle("GET /api/v1/temp-passwords", s.api("", s.apiListCredentials))
	mux.Handle("DELETE /api/v1/temp-passwords/{id}", s.notCredential(s.apiRevokeCredential).api(""))

	mux.Handle("GET /api/v1/keys", s.api("", s.apiListKeys))
	mux.Handle("POST /api/v1/keys", s.freshCredential(s.apiCreateKey).api(""))
	mux.Handle("DELETE /api/v1/keys/{id}", s.ownCredential(s.apiRevokeKey).api(""))

	mux.Handle("GET /api/v1/audit", s.api(policies.PermAuditRead, s.apiListAudit))

	mux.Handle("GET /api/v1/settings", s.api(policies.PermSettingsRead, s.apiGetSettings))
	mux.Handle("PATCH /api/v1/settings", s.api(policies.PermSettingsWrite, s.apiPatchSettings))
	mux.Handle("POST /api/v1/settings/test-email", s.api(policies.PermSettingsWrite, s.apiTestMail))

	s.pageRoutes(mux)
	s.impersonationRoutes(mux)
	s.emailRoutes(mux)
	mux.HandleFunc("/", s.handleNotFound)
	return mux
}
