package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// groupsData is the content of /admin/groups.
type groupsData struct{ Groups []GroupView }

func (s accessUI) handleGroups(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderGroups(w, r, c, http.StatusOK, "", nil)
}

func (s accessUI) renderGroups(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	groups, err := s.core.Access.ListGroups()
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.groups"), "groups")
	p.Error = errMsg
	if form != nil {
		p.Form = form
	}
	p.Data = groupsData{Groups: groups}
	s.render(w, r, status, "groups", p)
}

func (s accessUI) handleCreateGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	name, desc := r.PostForm.Get("name"), r.PostForm.Get("description")
	g, err := s.core.Access.CreateGroup(c, GroupInput{Name: &name, Description: &desc})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderGroups(w, r, c, status, msg, map[string]string{"name": name, "description": desc})
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(g.Name), "Group "+g.Name+" was created.")
}

// groupData is the content of /admin/groups/{group}.
type groupData struct {
	Group   GroupView
	Members []UserView
	Path    string
}

func (s accessUI) handleGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderGroup(w, r, c, http.StatusOK, "", nil)
}

func (s accessUI) renderGroup(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	g, members, err := s.core.Access.Group(r.PathValue("group"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "msg.groups.group", "Name", g.Name), "groups")
	p.Error = errMsg
	p.Form = map[string]string{"name": g.Name, "description": g.Description}
	for k, v := range form {
		p.Form[k] = v
	}
	d := groupData{Group: g, Members: make([]UserView, len(members)), Path: "/admin/groups/" + url.PathEscape(g.Name)}
	for i, u := range members {
		d.Members[i] = s.core.Users.View(u)
	}
	p.Data = d
	s.render(w, r, status, "group", p)
}

func (s accessUI) handleEditGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	name, desc := r.PostForm.Get("name"), r.PostForm.Get("description")
	g, err := s.core.Access.UpdateGroup(c, r.PathValue("group"), GroupInput{Name: &name, Description: &desc})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, map[string]string{"name": name, "description": desc})
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(g.Name), s.pages.tr(c, "msg.groups.group_saved"))
}

func (s accessUI) handleDeleteGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("group")
	if r.PostForm.Get("confirm") != "yes" {
		s.renderGroup(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.groups.tick_the_box_to"), nil)
		return
	}
	if err := s.core.Access.DeleteGroup(c, name); err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/groups", s.pages.tr(c, "msg.groups.deleted", "Name", name))
}

func (s accessUI) handleAddMember(w http.ResponseWriter, r *http.Request, c *caller) {
	name := strings.TrimSpace(r.PostForm.Get("username"))
	if name == "" {
		s.renderGroup(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.groups.enter_the_username_of"), nil)
		return
	}
	if err := s.core.Access.SetMembership(c, r.PathValue("group"), name, true); err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, map[string]string{"username": name})
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(r.PathValue("group")), policies.NormalizeUsername(name)+" was added to the group.")
}

func (s accessUI) handleRemoveMember(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("user")
	if err := s.core.Access.SetMembership(c, r.PathValue("group"), name, false); err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(r.PathValue("group")), name+" was removed from the group.")
}
