package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// The pages that make, re-key and delete apps (core/apps_edit.go): the
// "Add an app" form of /admin/apps, and the "New secret" and "Delete"
// buttons of an app made in the portal. A client secret is shown once, on
// the page that answers its making.

// appSecretData is the content of the page that shows a client id and
// its new secret once.
type appSecretData struct {
	Heading, ClientID, Secret, Issuer, Back string
}

// handleAppCreate makes an app from the add form: an OIDC client when
// redirect URIs are given (one a line), else a link on the home page.
func (s accessUI) handleAppCreate(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	in := core.AppSpec{Name: f.Get("name"), Title: f.Get("title"), URL: strings.TrimSpace(f.Get("url")), AllowGroups: splitList(f.Get("allow_groups"))}
	if uris := strings.Fields(f.Get("redirect_uris")); len(uris) > 0 {
		in.OIDC = &core.AppOIDCSpec{RedirectURIs: uris, Public: f.Get("public") != "", Consent: f.Get("consent") != ""}
	}
	v, secret, err := s.core.Access.CreateApp(c, in)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderApps(w, r, c, status, msg, map[string]string{"name": f.Get("name"), "title": f.Get("title"), "url": f.Get("url"),
			"redirect_uris": f.Get("redirect_uris"), "public": f.Get("public"), "consent": f.Get("consent"), "allow_groups": f.Get("allow_groups")})
		return
	}
	path := "/admin/apps/" + url.PathEscape(v.Name)
	if secret == "" {
		s.done(w, r, c, path, "The app "+v.Title+" was added.")
		return
	}
	s.renderAppSecret(w, r, c, appSecretData{Heading: s.pages.tr(c, "msg.apps_edit.app", "Title", v.Title), ClientID: v.Name, Secret: secret, Back: path})
}

// handleAppSecret gives an app made in the portal a new client secret and
// shows it once; the old one stops working.
func (s accessUI) handleAppSecret(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("app")
	secret, err := s.core.Access.RotateClientSecret(c, name)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderApp(w, r, c, status, msg, nil)
		return
	}
	s.renderAppSecret(w, r, c, appSecretData{Heading: s.pages.tr(c, "msg.apps_edit.new_secret_for", "Name", name), ClientID: name, Secret: secret,
		Back: "/admin/apps/" + url.PathEscape(name)})
}

func (s accessUI) renderAppSecret(w http.ResponseWriter, r *http.Request, c *caller, d appSecretData) {
	d.Issuer = s.portal.String()
	p := s.basePage(w, r, c, d.Heading, "apps")
	p.Data = d
	s.render(w, r, http.StatusOK, "app_secret", p)
}

// handleAppDelete deletes an app made in the portal once its box is
// ticked.
func (s accessUI) handleAppDelete(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("app")
	if r.PostForm.Get("confirm") != "yes" {
		s.renderApp(w, r, c, http.StatusBadRequest, "Tick the box to confirm that the app "+name+" should be deleted.", nil)
		return
	}
	if err := s.core.Access.DeleteApp(c, name); err != nil {
		status, msg := s.failMsg(err)
		s.renderApp(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/apps", s.pages.tr(c, "msg.apps.deleted", "Name", name))
}
