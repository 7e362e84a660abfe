package portal

import "net/http"

// routes is the portal's one route table. Every route runs behind secure
// (security headers, body limit, CSRF protection).
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
	mux.HandleFunc("POST /api/v1/login", s.throttled(s.apiLogin))
	mux.HandleFunc("POST /api/v1/logout", s.apiLogout)
	mux.HandleFunc("POST /api/v1/login/totp", s.throttled(s.apiLoginCode(methodTOTP)))
	mux.HandleFunc("POST /api/v1/login/backup-code", s.throttled(s.apiLoginCode(methodBackupCode)))
	mux.HandleFunc("POST /api/v1/login/enroll/totp", s.throttled(s.apiLoginEnrollTOTP))
	mux.HandleFunc("POST /api/v1/login/enroll/totp/confirm", s.throttled(s.apiLoginEnrollConfirm))
	mux.HandleFunc("POST /api/v1/login/webauthn/begin", s.throttled(s.apiBeginKeyLogin))
	mux.HandleFunc("POST /api/v1/login/webauthn/finish", s.throttled(s.apiFinishKeyLogin))
	mux.HandleFunc("GET /api/v1/me/2fa", s.apiMyFactors)
	mux.Handle("POST /api/v1/me/totp", s.freshCredential(s.apiBeginTOTP))
	mux.Handle("POST /api/v1/me/totp/confirm", s.ownCredential(s.apiConfirmTOTP))
	mux.Handle("DELETE /api/v1/me/totp", s.freshCredential(s.apiRemoveTOTP))
	mux.Handle("POST /api/v1/me/backup-codes", s.freshCredential(s.apiRegenerateBackupCodes))
	mux.Handle("POST /api/v1/me/webauthn/register/begin", s.freshCredential(s.apiBeginKeyRegistration))
	mux.Handle("POST /api/v1/me/webauthn/register/finish", s.ownCredential(s.apiFinishKeyRegistration))
	mux.Handle("PATCH /api/v1/me/webauthn/{id}", s.ownCredential(s.apiRenameKey))
	mux.Handle("DELETE /api/v1/me/webauthn/{id}", s.freshCredential(s.apiRemoveKey))
	mux.Handle("DELETE /api/v1/users/{user}/2fa", s.adminCredential(selfFactors, s.apiResetFactors))
	mux.HandleFunc("GET /api/v1/me", s.apiMe)
	mux.HandleFunc("PATCH /api/v1/me", s.apiPatchMe)
	mux.Handle("POST /api/v1/me/password", s.ownCredential(s.apiChangePassword))
	mux.HandleFunc("GET /api/v1/me/sessions", s.apiMySessions)
	mux.Handle("DELETE /api/v1/me/sessions", s.notCredential(s.apiRevokeMyOtherSessions))
	mux.HandleFunc("GET /api/v1/me/identities", s.apiMyIdentities)
	mux.Handle("DELETE /api/v1/me/identities/{provider}", s.freshCredential(s.apiUnlinkIdentity))
	mux.HandleFunc("POST /api/v1/password/forgot", s.throttled(s.apiForgot))

	mux.HandleFunc("GET /api/v1/users", s.apiListUsers)
	mux.HandleFunc("POST /api/v1/users", s.apiCreateUser)
	mux.HandleFunc("GET /api/v1/users/export", s.apiExportUsers)
	mux.HandleFunc("POST /api/v1/users/import", s.apiImportUsers)
	mux.HandleFunc("GET /api/v1/users/{user}", s.apiGetUser)
	mux.HandleFunc("PATCH /api/v1/users/{user}", s.apiPatchUser)
	mux.HandleFunc("DELETE /api/v1/users/{user}", s.apiDeleteUser)
	mux.Handle("POST /api/v1/users/{user}/password", s.adminCredential(selfPassword, s.apiSetUserPassword))
	mux.Handle("POST /api/v1/users/{user}/reset-link", s.adminCredential(selfPassword, s.apiResetLink))
	mux.HandleFunc("POST /api/v1/users/{user}/unlock", s.apiUnlockUser)
	mux.HandleFunc("GET /api/v1/users/{user}/sessions", s.apiUserSessions)
	mux.HandleFunc("DELETE /api/v1/users/{user}/sessions", s.apiRevokeUserSessions)

	mux.HandleFunc("GET /api/v1/groups", s.apiListGroups)
	mux.HandleFunc("POST /api/v1/groups", s.apiCreateGroup)
	mux.HandleFunc("GET /api/v1/groups/{group}", s.apiGetGroup)
	mux.HandleFunc("PATCH /api/v1/groups/{group}", s.apiPatchGroup)
	mux.HandleFunc("DELETE /api/v1/groups/{group}", s.apiDeleteGroup)
	mux.HandleFunc("PUT /api/v1/groups/{group}/members/{user}", s.apiAddMember)
	mux.HandleFunc("DELETE /api/v1/groups/{group}/members/{user}", s.apiRemoveMember)

	mux.HandleFunc("GET /api/v1/apps", s.apiListApps)
	mux.HandleFunc("GET /api/v1/apps/{app}", s.apiGetApp)
	mux.HandleFunc("PATCH /api/v1/apps/{app}", s.apiPatchApp)

	mux.HandleFunc("GET /api/v1/roles", s.apiListRoles)
	mux.HandleFunc("POST /api/v1/roles", s.apiCreateRole)
	mux.HandleFunc("GET /api/v1/roles/{role}", s.apiGetRole)
	mux.HandleFunc("PATCH /api/v1/roles/{role}", s.apiPatchRole)
	mux.HandleFunc("DELETE /api/v1/roles/{role}", s.apiDeleteRole)

	mux.HandleFunc("GET /api/v1/sessions", s.apiListSessions)
	mux.HandleFunc("DELETE /api/v1/sessions/{id}", s.apiRevokeSession)

	mux.HandleFunc("GET /api/v1/invitations", s.apiListInvitations)
	mux.HandleFunc("POST /api/v1/invitations", s.apiCreateInvitation)
	mux.HandleFunc("DELETE /api/v1/invitations/{id}", s.apiRevokeInvitation)
	mux.HandleFunc("GET /api/v1/reset-links", s.apiListCredentials)
	// Revoking takes a way in away and gives none: owners only, checked
	// in the handler.
	mux.Handle("DELETE /api/v1/reset-links/{id}", s.notCredential(s.apiRevokeCredential))
	mux.HandleFunc("GET /api/v1/temp-passwords", s.apiListCredentials)
	mux.Handle("DELETE /api/v1/temp-passwords/{id}", s.notCredential(s.apiRevokeCredential))

	mux.HandleFunc("GET /api/v1/keys", s.apiListKeys)
	mux.Handle("POST /api/v1/keys", s.freshCredential(s.apiCreateKey))
	mux.Handle("DELETE /api/v1/keys/{id}", s.ownCredential(s.apiRevokeKey))

	mux.HandleFunc("GET /api/v1/audit", s.apiListAudit)

	mux.HandleFunc("GET /api/v1/settings", s.apiGetSettings)
	mux.HandleFunc("PATCH /api/v1/settings", s.apiPatchSettings)
	mux.HandleFunc("POST /api/v1/settings/test-email", s.apiTestMail)

	s.pageRoutes(mux)
	s.impersonationRoutes(mux)
	s.emailRoutes(mux)
	mux.HandleFunc("/", s.handleNotFound)
	return mux
}
