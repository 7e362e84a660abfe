package portal

import "net/http"

// routes is the portal's one route table. Every route runs behind secure
// (security headers, body limit, CSRF protection).
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()

	// Pages.
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLoginForm)
	mux.HandleFunc("GET /logout", s.handleLogoutPage)
	mux.HandleFunc("POST /logout", s.handleLogoutForm)
	mux.HandleFunc("GET /setup", s.handleSetupPage)
	mux.HandleFunc("POST /setup", s.handleSetupForm)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServer(staticFS())))

	// JSON API v1.
	mux.HandleFunc("POST /api/v1/login", s.apiLogin)
	mux.HandleFunc("POST /api/v1/logout", s.apiLogout)
	mux.HandleFunc("GET /api/v1/me", s.apiMe)

	mux.HandleFunc("/", s.handleNotFound)
	return s.secure(mux)
}
