package portal

import (
	"net/http"
)

func (s adminAPI) apiListGroups(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		items, err := s.core.Access.ListGroups()
		return http.StatusOK, list[GroupView]{Items: items}, err
	})
}

func (s adminAPI) apiCreateGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in GroupInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		g, err := s.core.Access.CreateGroup(c, in)
		return http.StatusCreated, g, err
	})
}

// GroupDetail is a group with its members.
type GroupDetail struct {
	GroupView
	Users []UserView `json:"users"`
}

func (s adminAPI) apiGetGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		g, members, err := s.core.Access.Group(r.PathValue("group"))
		if err != nil {
			return 0, nil, err
		}
		d := GroupDetail{GroupView: g, Users: make([]UserView, len(members))}
		for i, u := range members {
			d.Users[i] = s.core.Users.View(u)
		}
		return http.StatusOK, d, nil
	})
}

func (s adminAPI) apiPatchGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in GroupInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		g, err := s.core.Access.UpdateGroup(c, r.PathValue("group"), in)
		return http.StatusOK, g, err
	})
}

func (s adminAPI) apiDeleteGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Access.DeleteGroup(c, r.PathValue("group"))
	})
}

func (s adminAPI) apiAddMember(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Access.SetMembership(c, r.PathValue("group"), r.PathValue("user"), true)
	})
}

func (s adminAPI) apiRemoveMember(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Access.SetMembership(c, r.PathValue("group"), r.PathValue("user"), false)
	})
}
