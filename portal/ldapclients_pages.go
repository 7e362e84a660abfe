package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// The page of the directory server's bind clients, /admin/ldap
// (settings.write, as in the API): the list with each client's app, bind
// DN and last use, a form to make one (its secret shown once) and a
// confirmed delete. Making and deleting are service credentials: the
// route table refuses them with an API key and while impersonating.

// ldapPageData is the content of /admin/ldap.
type ldapPageData struct {
	BaseDN  string
	Clients []core.LDAPClientView
	// Server is where the directory server listens; nil when it is off.
	Server *DirectoryServerInfo
}

func (s accessUI) handleLDAPClients(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderLDAPClients(w, r, c, http.StatusOK, "", nil)
}

func (s accessUI) renderLDAPClients(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	clients, err := s.core.Credentials.ListLDAPClients(c)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.ldap"), "ldap")
	p.Error = errMsg
	for k, v := range form {
		p.Form[k] = v
	}
	for _, a := range s.core.Access.Apps() {
		p.Apps = append(p.Apps, pageApp{Name: a.Name, Title: a.Title, URL: a.URL})
	}
	p.Data = ldapPageData{BaseDN: s.core.DirectoryBaseDN(), Clients: clients, Server: s.dirServer}
	s.render(w, r, status, "ldap", p)
}

// handleLDAPClientCreate makes a bind client and shows its secret once.
func (s accessUI) handleLDAPClientCreate(w http.ResponseWriter, r *http.Request, c *caller) {
	in := core.LDAPClientInput{Name: r.PostForm.Get("name"), App: r.PostForm.Get("app")}
	v, err := s.core.Credentials.CreateLDAPClient(c, in)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderLDAPClients(w, r, c, status, msg, map[string]string{"name": in.Name, "app": in.App})
		return
	}
	scope := s.pages.tr(c, "msg.ldapclients.it_sees_every_active")
	if v.App != "" {
		scope = s.pages.tr(c, "msg.ldapclients.only_app", "App", v.App)
	}
	s.usersUI().renderLink(w, r, c, "ldap", linkData{Heading: s.pages.tr(c, "msg.ldapclients.ldap_client", "Name", v.Name), Label: s.pages.tr(c, "msg.ldapclients.bind_password"), Link: v.Secret,
		Lede: s.pages.tr(c, "msg.ldapclients.give_the_app_this", "BindDN", v.BindDN),
		Note: scope, Back: "/admin/ldap", BackLabel: s.pages.tr(c, "msg.ldapclients.back_to_the_directory")})
}

// handleLDAPClientDelete deletes a bind client once its box is ticked.
func (s accessUI) handleLDAPClientDelete(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("name")
	if r.PostForm.Get("confirm") != "yes" {
		s.renderLDAPClients(w, r, c, http.StatusBadRequest, "Tick the box to confirm that the LDAP client "+name+" should be deleted.", nil)
		return
	}
	if err := s.core.Credentials.DeleteLDAPClient(c, name); err != nil {
		status, msg := s.failMsg(err)
		s.renderLDAPClients(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/ldap", s.pages.tr(c, "msg.ldap.client_deleted", "Name", name))
}
