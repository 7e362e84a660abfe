package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/oidcprovider"
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
	mux.HandleFunc("GET /login", s.signInUI().handleLoginPage)
	mux.HandleFunc("POST /login", s.throttled(s.signInUI().handleLoginForm))
	mux.HandleFunc("GET /logout", s.signInUI().handleLogoutPage)
	mux.HandleFunc("POST /logout", s.signInUI().handleLogoutForm)
	mux.HandleFunc("GET /setup", s.signInUI().handleSetupPage)
	mux.HandleFunc("POST /setup", s.throttled(s.signInUI().handleSetupForm))
	mux.HandleFunc("GET /login/oidc/{provider}", s.throttled(s.signInUI().handleOIDCStart))
	mux.HandleFunc("GET /login/oidc/{provider}/callback", s.throttled(s.signInUI().handleOIDCCallback))
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServer(staticFS())))
	mux.HandleFunc("GET "+brandCSSPath, brandingAPI{s}.serveBrandCSS)
	mux.HandleFunc("GET "+brandLogoPath, brandingAPI{s}.serveBrandLogo)

	// JSON API v1.
	mux.Handle("POST /api/v1/login", s.public(s.throttled(s.signInUI().apiLogin)))
	mux.Handle("POST /api/v1/logout", s.public(s.signInUI().apiLogout))
	mux.Handle("POST /api/v1/login/totp", s.public(s.throttled(s.secondStepUI().apiLoginCode(core.MethodTOTP))))
	mux.Handle("POST /api/v1/login/backup-code", s.public(s.throttled(s.secondStepUI().apiLoginCode(core.MethodBackupCode))))
	mux.Handle("POST /api/v1/login/enroll/totp", s.public(s.throttled(s.secondStepUI().apiLoginEnrollTOTP)))
	mux.Handle("POST /api/v1/login/enroll/totp/confirm", s.public(s.throttled(s.secondStepUI().apiLoginEnrollConfirm)))
	mux.Handle("POST /api/v1/login/webauthn/begin", s.public(s.throttled(s.accountUI().apiBeginKeyLogin)))
	mux.Handle("POST /api/v1/login/webauthn/finish", s.public(s.throttled(s.accountUI().apiFinishKeyLogin)))
	mux.Handle("GET /api/v1/me/2fa", s.api("", s.secondStepUI().apiMyFactors))
	mux.Handle("POST /api/v1/me/totp", s.freshCredential(s.secondStepUI().apiBeginTOTP).api(""))
	mux.Handle("POST /api/v1/me/totp/confirm", s.ownCredential(s.secondStepUI().apiConfirmTOTP).api(""))
	mux.Handle("DELETE /api/v1/me/totp", s.freshCredential(s.secondStepUI().apiRemoveTOTP).api(""))
	mux.Handle("POST /api/v1/me/backup-codes", s.freshCredential(s.secondStepUI().apiRegenerateBackupCodes).api(""))
	mux.Handle("POST /api/v1/me/webauthn/register/begin", s.freshCredential(s.accountUI().apiBeginKeyRegistration).api(""))
	mux.Handle("POST /api/v1/me/webauthn/register/finish", s.ownCredential(s.accountUI().apiFinishKeyRegistration).api(""))
	mux.Handle("PATCH /api/v1/me/webauthn/{id}", s.ownCredential(s.accountUI().apiRenameKey).api(""))
	mux.Handle("DELETE /api/v1/me/webauthn/{id}", s.freshCredential(s.accountUI().apiRemoveKey).api(""))
	mux.Handle("DELETE /api/v1/users/{user}/2fa", s.adminCredential(core.SelfFactors, s.secondStepUI().apiResetFactors).api(policies.PermUsersWrite))
	mux.Handle("GET /api/v1/me", s.ownSession(s.accountUI().apiMe))
	mux.Handle("PATCH /api/v1/me", s.api("", s.accountUI().apiPatchMe))
	mux.Handle("POST /api/v1/me/password", s.ownCredential(s.accountUI().apiChangePassword).ownSession())
	mux.Handle("GET /api/v1/me/sessions", s.api("", s.adminAPI().apiMySessions))
	mux.Handle("DELETE /api/v1/me/sessions", s.notCredential(s.adminAPI().apiRevokeMyOtherSessions).api(""))
	mux.Handle("GET /api/v1/me/identities", s.api("", s.accountUI().apiMyIdentities))
	mux.Handle("DELETE /api/v1/me/identities/{provider}", s.freshCredential(s.accountUI().apiUnlinkIdentity).api(""))
	mux.Handle("GET /api/v1/me/app-passwords", s.api("", s.adminAPI().apiMyAppPasswords))
	mux.Handle("POST /api/v1/me/app-passwords", s.freshCredential(s.adminAPI().apiCreateAppPassword).api(""))
	mux.Handle("DELETE /api/v1/me/app-passwords/{id}", s.ownCredential(s.adminAPI().apiRevokeAppPassword).api(""))
	mux.Handle("GET /api/v1/me/connected-apps", s.api("", oidcConsentUI{s}.apiMyConnectedApps))
	mux.Handle("DELETE /api/v1/me/connected-apps/{app}", s.ownCredential(oidcConsentUI{s}.apiRevokeConnectedApp).api(""))
	mux.Handle("GET /api/v1/me/ssh-keys", s.api("", s.adminAPI().apiMySSHKeys))
	mux.Handle("PUT /api/v1/me/ssh-keys", s.freshCredential(s.adminAPI().apiSetSSHKeys).api(""))
	mux.Handle("POST /api/v1/password/forgot", s.public(s.throttled(s.accountUI().apiForgot)))

	mux.Handle("GET /api/v1/users", s.api(policies.PermUsersRead, s.adminAPI().apiListUsers))
	mux.Handle("POST /api/v1/users", s.api(policies.PermUsersWrite, s.adminAPI().apiCreateUser))
	mux.Handle("GET /api/v1/users/export", s.api(policies.PermUsersRead, s.adminAPI().apiExportUsers))
	mux.Handle("POST /api/v1/users/import", s.bodyLimit(maxImportBytes, s.api(policies.PermUsersWrite, s.adminAPI().apiImportUsers)))
	mux.Handle("GET /api/v1/users/{user}", s.api(policies.PermUsersRead, s.adminAPI().apiGetUser))
	mux.Handle("PATCH /api/v1/users/{user}", s.api(policies.PermUsersWrite, s.adminAPI().apiPatchUser))
	mux.Handle("DELETE /api/v1/users/{user}", s.api(policies.PermUsersWrite, s.adminAPI().apiDeleteUser))
	mux.Handle("POST /api/v1/users/{user}/password", s.adminCredential(core.SelfPassword, s.adminAPI().apiSetUserPassword).api(policies.PermUsersWrite))
	mux.Handle("POST /api/v1/users/{user}/reset-link", s.adminCredential(core.SelfPassword, s.adminAPI().apiResetLink).api(policies.PermUsersWrite))
	mux.Handle("POST /api/v1/users/{user}/unlock", s.api(policies.PermUsersWrite, s.adminAPI().apiUnlockUser))
	mux.Handle("GET /api/v1/users/{user}/sessions", s.api(policies.PermSessionsRead, s.adminAPI().apiUserSessions))
	mux.Handle("DELETE /api/v1/users/{user}/sessions", s.api(policies.PermSessionsRevoke, s.adminAPI().apiRevokeUserSessions))
	mux.Handle("GET /api/v1/users/{user}/app-passwords", s.api(policies.PermUsersRead, s.adminAPI().apiUserAppPasswords))
	mux.Handle("DELETE /api/v1/users/{user}/app-passwords/{id}", s.adminCredential(core.SelfAppPasswords, s.adminAPI().apiRevokeUserAppPassword).api(policies.PermUsersWrite))

	mux.Handle("GET /api/v1/groups", s.api(policies.PermGroupsRead, s.adminAPI().apiListGroups))
	mux.Handle("POST /api/v1/groups", s.api(policies.PermGroupsWrite, s.adminAPI().apiCreateGroup))
	mux.Handle("GET /api/v1/groups/{group}", s.api(policies.PermGroupsRead, s.adminAPI().apiGetGroup))
	mux.Handle("PATCH /api/v1/groups/{group}", s.api(policies.PermGroupsWrite, s.adminAPI().apiPatchGroup))
	mux.Handle("DELETE /api/v1/groups/{group}", s.api(policies.PermGroupsWrite, s.adminAPI().apiDeleteGroup))
	mux.Handle("PUT /api/v1/groups/{group}/members/{user}", s.api(policies.PermGroupsWrite, s.adminAPI().apiAddMember))
	mux.Handle("DELETE /api/v1/groups/{group}/members/{user}", s.api(policies.PermGroupsWrite, s.adminAPI().apiRemoveMember))

	mux.Handle("GET /api/v1/apps", s.api("", s.adminAPI().apiListApps))
	mux.Handle("GET /api/v1/apps/{app}", s.api("", s.adminAPI().apiGetApp))
	mux.Handle("PATCH /api/v1/apps/{app}", s.api("", s.adminAPI().apiPatchApp))
	// Apps made through the API (OIDC clients without a guard). A client
	// secret is an app's credential, not a person's: an API key with
	// apps.write (and users.read, checked in the core) may make and re-key
	// apps, for setup scripts; the core refuses an impersonation.
	mux.Handle("POST /api/v1/apps", s.api(policies.PermAppsWrite, s.appsAPI().apiCreateApp))
	mux.Handle("DELETE /api/v1/apps/{app}", s.api(policies.PermAppsWrite, s.appsAPI().apiDeleteApp))
	mux.Handle("POST /api/v1/apps/{app}/oidc/secret", s.notCredential(s.appsAPI().apiRotateAppSecret).api(policies.PermAppsWrite))

	mux.Handle("GET /api/v1/roles", s.api(policies.PermRolesRead, s.adminAPI().apiListRoles))
	mux.Handle("POST /api/v1/roles", s.api(policies.PermUsersRoles, s.adminAPI().apiCreateRole))
	mux.Handle("GET /api/v1/roles/{role}", s.api(policies.PermRolesRead, s.adminAPI().apiGetRole))
	mux.Handle("PATCH /api/v1/roles/{role}", s.api(policies.PermUsersRoles, s.adminAPI().apiPatchRole))
	mux.Handle("DELETE /api/v1/roles/{role}", s.api(policies.PermUsersRoles, s.adminAPI().apiDeleteRole))

	mux.Handle("GET /api/v1/sessions", s.api(policies.PermSessionsRead, s.adminAPI().apiListSessions))
	mux.Handle("DELETE /api/v1/sessions/{id}", s.api("", s.adminAPI().apiRevokeSession))

	mux.Handle("GET /api/v1/invitations", s.api(policies.PermInvitationsRead, s.adminAPI().apiListInvitations))
	mux.Handle("POST /api/v1/invitations", s.api(policies.PermInvitationsWrite, s.adminAPI().apiCreateInvitation))
	mux.Handle("DELETE /api/v1/invitations/{id}", s.api(policies.PermInvitationsWrite, s.adminAPI().apiRevokeInvitation))
	mux.Handle("GET /api/v1/reset-links", s.api("", s.adminAPI().apiListCredentials))
	// Revoking takes a way in away and gives none: owners only, checked
	// in the handler.
	mux.Handle("DELETE /api/v1/reset-links/{id}", s.notCredential(s.adminAPI().apiRevokeCredential).api(""))
	mux.Handle("GET /api/v1/temp-passwords", s.api("", s.adminAPI().apiListCredentials))
	mux.Handle("DELETE /api/v1/temp-passwords/{id}", s.notCredential(s.adminAPI().apiRevokeCredential).api(""))

	mux.Handle("GET /api/v1/keys", s.api("", s.adminAPI().apiListKeys))
	mux.Handle("POST /api/v1/keys", s.freshCredential(s.adminAPI().apiCreateKey).api(""))
	mux.Handle("DELETE /api/v1/keys/{id}", s.ownCredential(s.adminAPI().apiRevokeKey).api(""))

	mux.Handle("GET /api/v1/audit", s.api(policies.PermAuditRead, s.adminAPI().apiListAudit))

	mux.Handle("GET /api/v1/ldap/clients", s.api(policies.PermSettingsWrite, s.adminAPI().apiListLDAPClients))
	mux.Handle("POST /api/v1/ldap/clients", s.serviceCredential(s.adminAPI().apiCreateLDAPClient).api(policies.PermSettingsWrite))
	mux.Handle("DELETE /api/v1/ldap/clients/{name}", s.serviceCredential(s.adminAPI().apiDeleteLDAPClient).api(policies.PermSettingsWrite))

	mux.Handle("GET /api/v1/settings", s.api(policies.PermSettingsRead, s.adminAPI().apiGetSettings))
	mux.Handle("PATCH /api/v1/settings", s.api(policies.PermSettingsWrite, s.adminAPI().apiPatchSettings))
	mux.Handle("POST /api/v1/settings/test-email", s.api(policies.PermSettingsWrite, s.adminAPI().apiTestMail))
	mux.Handle("GET /api/v1/settings/logo", s.api(policies.PermSettingsRead, brandingAPI{s}.apiGetLogo))
	mux.Handle("PUT /api/v1/settings/logo", s.bodyLimit(maxLogoUploadBytes, s.api(policies.PermSettingsWrite, brandingAPI{s}.apiPutLogo)))
	mux.Handle("DELETE /api/v1/settings/logo", s.api(policies.PermSettingsWrite, brandingAPI{s}.apiDeleteLogo))
	// Backups into the configured directory: owners only (core.Backups),
	// with their session or API key, never while impersonating.
	mux.Handle("GET /api/v1/backups", s.api(policies.PermSettingsRead, backupsAPI{s}.apiListBackups))
	mux.Handle("POST /api/v1/backups", s.api(policies.PermSettingsWrite, backupsAPI{s}.apiCreateBackup))

	// The external directory. A synchronisation creates, updates and
	// disables accounts: the work of users.write (Users.UpdateUser checks
	// each disable against the caller's own rights).
	mux.Handle("GET /api/v1/directory", s.api(policies.PermUsersRead, s.adminAPI().apiDirectory))
	mux.Handle("POST /api/v1/directory/sync", s.api(policies.PermUsersWrite, s.adminAPI().apiDirectorySync))

	// Forward-auth for other proxies (forwardauth.go): answers only a
	// trusted proxy, for the original request it describes.
	mux.Handle("GET /api/authz/forward-auth", s.public(forwardAuth{s}.handleForwardAuth))
	mux.Handle("GET /api/authz/auth-request", s.public(forwardAuth{s}.handleAuthRequest))
	mux.HandleFunc("GET "+oidcprovider.JWKSPath, keySet{s}.handle)

	s.pageRoutes(mux)
	s.adminAPI().impersonationRoutes(mux)
	s.accountUI().emailRoutes(mux)
	mux.HandleFunc("/", s.handleNotFound)
	return mux
}
