package portal

import (
	"html/template"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/oidcprovider"
)

// continuePage sends the browser on to another origin after a form. A 303
// would do, but Chrome applies the CSP form-action directive ('self') to a
// form's redirects as well, so a redirect to an app on another host or port
// is blocked; a page that refreshes to the target is not a form navigation.
var continuePage = template.Must(template.New("continue").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0;url={{.}}">
<title>Signed in · Gatehouse</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
</head>
<body class="is-signed-out">
<main id="main" class="main-auth">
<section class="card card-auth">
<h1>Signed in</h1>
<p class="lede">Taking you back to <a href="{{.}}">{{.}}</a>…</p>
</section>
</main>
</body>
</html>
`))

// redirectAfterForm answers a form POST by sending the browser to target:
// a 303 within the portal's origin, a refreshing page to other origins and
// to the OpenID Connect provider's continue page and to the single
// sign-on page for apps on other domains (both redirect on to the app).
func (s *Service) redirectAfterForm(w http.ResponseWriter, r *http.Request, target string) {
	if u, err := url.Parse(target); err == nil && (u.Host == "" || (u.Scheme == s.portal.Scheme && u.Host == s.portal.Host)) &&
		u.Path != oidcprovider.ContinuePath && u.Path != HandoffPagePath {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	setPageSecurityHeaders(h)
	w.WriteHeader(http.StatusOK)
	if err := continuePage.Execute(w, target); err != nil {
		s.log.Error("render continue page", "error", err)
	}
}
