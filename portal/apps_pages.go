package portal

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// appRow is one app of the app list.
type appRow struct {
	AppView
	CanEdit bool
}

// appsData is the content of /admin/apps.
type appsData struct {
	Apps []appRow
	// Snippet is a Caddyfile site block that adds an app, for this
	// portal's domain.
	Snippet string
	// Groups are the group names the add form suggests.
	Groups []string
}

// appSnippet is a Caddyfile site that protects a new app, on a host next
// to the portal's: myapp.example.com for a portal at auth.example.com, a
// free port for a portal on localhost or an IP address.
func appSnippet(portal *url.URL) string {
	host, port := portal.Hostname(), portal.Port()
	site := "myapp." + host
	switch labels := strings.Split(host, "."); {
	case host == "localhost" || net.ParseIP(host) != nil:
		n, _ := strconv.Atoi(port)
		if n == 0 {
			n = 8080
		}
		site = net.JoinHostPort(host, strconv.Itoa(n+10))
	case len(labels) >= 3:
		site = "myapp." + strings.Join(labels[1:], ".")
	}
	addr := portal.Scheme + "://" + site
	if portal.Scheme == "http" {
		site = addr // without the scheme, Caddy would serve it over https
	}
	return site + " {\n" +
		"\tgatehouse myapp {\n" +
		"\t\ttitle \"My app\"\n" +
		"\t\turl   " + addr + "\n" +
		"\t}\n" +
		"\treverse_proxy 127.0.0.1:3000\n" +
		"}\n"
}

// handleApps lists the apps c may see: all of them with apps.read, else
// those c operates (as GET /api/v1/apps).
func (s accessUI) handleApps(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderApps(w, r, c, http.StatusOK, "", nil)
}

// renderApps shows the app list, with errMsg and the add form's values
// after a refused creation.
func (s accessUI) renderApps(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	var d appsData
	used := appsLastUse(s.Service)
	for _, a := range s.core.Access.Apps() {
		if c.Can(policies.PermAppsRead) || s.core.Access.IsAppOperator(c.User, a.Name) {
			d.Apps = append(d.Apps, appRow{AppView: withLastUse(s.core.Access.AppViewOf(a), used), CanEdit: s.core.Access.MayEditApp(c, a.Name)})
		}
	}
	if len(d.Apps) == 0 && !c.Can(policies.PermAppsRead) {
		s.pageFail(w, r, c, core.Need(c, policies.PermAppsRead))
		return
	}
	d.Snippet = appSnippet(s.portal)
	d.Groups = s.usersUI().groupNames()
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.apps"), "apps")
	p.Error = errMsg
	for k, v := range form {
		p.Form[k] = v
	}
	p.Data = d
	s.render(w, r, status, "apps", p)
}

// appData is the content of /admin/apps/{app}.
type appData struct {
	App                   AppView
	Path                  string
	CanEdit, CanOperators bool
	Groups                []string
	// CanManage: the app was made in the portal and c may re-key and
	// delete it.
	CanManage bool
}

func (s accessUI) handleApp(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderApp(w, r, c, http.StatusOK, "", nil)
}

// renderApp shows an app to a holder of apps.read or one of its operators
// (as GET /api/v1/apps/{app}).
func (s accessUI) renderApp(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	a, err := s.core.Access.AppNamed(r.PathValue("app"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if !c.Can(policies.PermAppsRead) && !s.core.Access.IsAppOperator(c.User, a.Name) {
		s.pageFail(w, r, c, core.Need(c, policies.PermAppsRead))
		return
	}
	v := s.core.Access.AppViewOf(a)
	p := s.basePage(w, r, c, v.Title, "apps")
	p.Error = errMsg
	p.Form = map[string]string{"allow_groups": strings.Join(v.AllowGroups, ", "), "allow_users": strings.Join(v.AllowUsers, ", "),
		"operators": strings.Join(v.Operators, ", ")}
	for k, val := range form {
		p.Form[k] = val
	}
	p.Data = appData{App: v, Path: "/admin/apps/" + url.PathEscape(a.Name), CanEdit: s.core.Access.MayEditApp(c, a.Name) && !a.Configured,
		CanOperators: c.Can(policies.PermAppsWrite), Groups: s.usersUI().groupNames(), CanManage: a.Made && c.Can(policies.PermAppsWrite)}
	s.render(w, r, status, "app", p)
}

func (s accessUI) handleAppAccess(w http.ResponseWriter, r *http.Request, c *caller) {
	gv, uv := r.PostForm.Get("allow_groups"), r.PostForm.Get("allow_users")
	groups, users := splitList(gv), splitList(uv)
	require2FA, appPasswords := r.PostForm.Get("require_2fa") != "", r.PostForm.Get("app_passwords") != ""
	v, err := s.core.Access.UpdateAppAccess(c, r.PathValue("app"), AppAccessInput{AllowGroups: &groups, AllowUsers: &users,
		Require2FA: &require2FA, AppPasswords: &appPasswords})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderApp(w, r, c, status, msg, map[string]string{"allow_groups": gv, "allow_users": uv})
		return
	}
	msg := s.pages.tr(c, "msg.apps.access_saved_listed", "Title", v.Title)
	if v.Open {
		msg = s.pages.tr(c, "msg.apps.access_saved_open", "Title", v.Title)
	}
	s.done(w, r, c, "/admin/apps/"+url.PathEscape(v.Name), msg)
}

func (s accessUI) handleAppOperators(w http.ResponseWriter, r *http.Request, c *caller) {
	ov := r.PostForm.Get("operators")
	ops := splitList(ov)
	v, err := s.core.Access.UpdateAppAccess(c, r.PathValue("app"), AppAccessInput{Operators: &ops})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderApp(w, r, c, status, msg, map[string]string{"operators": ov})
		return
	}
	s.done(w, r, c, "/admin/apps/"+url.PathEscape(v.Name), s.pages.tr(c, "msg.apps.operators_saved"))
}
