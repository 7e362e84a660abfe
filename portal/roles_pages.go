package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// permBox is one permission checkbox.
type permBox struct {
	Name    string
	Checked bool
}

// permArea groups the permissions of one area (users, groups, …).
type permArea struct {
	Area  string
	Perms []permBox
}

// permAreas lists every permission by area, checking those in checked.
func permAreas(checked []string) []permArea {
	var out []permArea
	for _, p := range policies.AllPermissions() {
		area, _, _ := strings.Cut(string(p), ".")
		if len(out) == 0 || out[len(out)-1].Area != area {
			out = append(out, permArea{Area: area})
		}
		box := permBox{Name: string(p)}
		for _, c := range checked {
			if c == string(p) {
				box.Checked = true
			}
		}
		out[len(out)-1].Perms = append(out[len(out)-1].Perms, box)
	}
	return out
}

// rolesData is the content of /admin/roles.
type rolesData struct {
	Builtin, Custom []RoleView
	Perms           []permArea
	// AllCount is the number of permissions: a role with that many has
	// every permission.
	AllCount int
}

func (s accessUI) handleRoles(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderRoles(w, r, c, http.StatusOK, "", nil, nil)
}

func (s accessUI) renderRoles(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string, perms []string) {
	roles, err := s.core.Access.ListRoles()
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.roles"), "roles")
	p.Error = errMsg
	if form != nil {
		p.Form = form
	}
	d := rolesData{Perms: permAreas(perms), AllCount: len(policies.AllPermissions())}
	for _, role := range roles {
		if role.Builtin {
			d.Builtin = append(d.Builtin, role)
		} else {
			d.Custom = append(d.Custom, role)
		}
	}
	p.Data = d
	s.render(w, r, status, "roles", p)
}

func (s accessUI) handleCreateRole(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	name, desc := f.Get("name"), f.Get("description")
	perms := append([]string{}, f["permissions"]...)
	v, err := s.core.Access.CreateRole(c, RoleInput{Name: name, Description: &desc, Permissions: &perms})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderRoles(w, r, c, status, msg, map[string]string{"name": name, "description": desc}, perms)
		return
	}
	s.done(w, r, c, "/admin/roles/"+url.PathEscape(v.Name), "Role "+v.Name+" was created.")
}

// roleData is the content of /admin/roles/{role}.
type roleData struct {
	Role  RoleView
	Path  string
	Perms []permArea
}

func (s accessUI) handleRole(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderRole(w, r, c, http.StatusOK, "", nil, nil)
}

func (s accessUI) renderRole(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string, perms []string) {
	v, err := s.core.Access.Role(r.PathValue("role"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "msg.roles.role", "Name", v.Name), "roles")
	p.Error = errMsg
	p.Form = map[string]string{"description": v.Description}
	for k, val := range form {
		p.Form[k] = val
	}
	if perms == nil {
		perms = v.Permissions
	}
	p.Data = roleData{Role: v, Path: "/admin/roles/" + url.PathEscape(v.Name), Perms: permAreas(perms)}
	s.render(w, r, status, "role", p)
}

func (s accessUI) handleEditRole(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	desc := f.Get("description")
	perms := append([]string{}, f["permissions"]...)
	v, err := s.core.Access.UpdateRole(c, r.PathValue("role"), RoleInput{Description: &desc, Permissions: &perms})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderRole(w, r, c, status, msg, map[string]string{"description": desc}, perms)
		return
	}
	s.done(w, r, c, "/admin/roles/"+url.PathEscape(v.Name), s.pages.tr(c, "msg.roles.role_saved"))
}

func (s accessUI) handleDeleteRole(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("role")
	if r.PostForm.Get("confirm") != "yes" {
		s.renderRole(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.roles.tick_the_box_to"), nil, nil)
		return
	}
	if err := s.core.Access.DeleteRole(c, name); err != nil {
		status, msg := s.failMsg(err)
		s.renderRole(w, r, c, status, msg, nil, nil)
		return
	}
	s.done(w, r, c, "/admin/roles", s.pages.tr(c, "msg.roles.deleted", "Name", name))
}
