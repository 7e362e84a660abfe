package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

func (s adminAPI) apiListUsers(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		users, next, err := s.usersUI().searchUsers(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		out := list[UserView]{Items: make([]UserView, len(users)), Next: next}
		for i, u := range users {
			out.Items[i] = s.core.Users.View(u)
		}
		return http.StatusOK, out, nil
	})
}

// createUserResponse is a created user and, when it was made without a
// password, the link to set one.
type createUserResponse struct {
	UserView
	Link string `json:"link,omitempty"`
}

func (s adminAPI) apiCreateUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var nu NewUser
		if err := decode(r, &nu); err != nil {
			return 0, nil, err
		}
		u, link, err := s.core.Users.AdminCreateUser(r.Context(), c, nu)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, createUserResponse{UserView: s.core.Users.View(u), Link: link}, nil
	})
}

// UserDetail is one user with their sessions and lockout state.
type UserDetail struct {
	UserView
	Sessions []SessionView `json:"sessions"`
	Locked   bool          `json:"locked"`
	// TwoFactor lists the second factors the user has set up.
	TwoFactor []string `json:"two_factor"`
}

func (s adminAPI) userDetail(u *store.User, current store.SessionID) (UserDetail, error) {
	sessions, err := s.core.Sessions.UserSessions(u, current)
	if err != nil {
		return UserDetail{}, err
	}
	locked, err := s.core.Auth.Locked(u)
	if err != nil {
		return UserDetail{}, err
	}
	f, _, err := s.core.Auth.Factors(u)
	if err != nil {
		return UserDetail{}, err
	}
	return UserDetail{UserView: s.core.Users.View(u), Sessions: sessions, Locked: locked, TwoFactor: f.Methods}, nil
}

func (s adminAPI) apiGetUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		u, err := s.core.Users.FindUser(r.PathValue("user"))
		if err != nil {
			return 0, nil, err
		}
		d, err := s.userDetail(u, c.SessionID)
		return http.StatusOK, d, err
	})
}

func (s adminAPI) apiPatchUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var p UserPatch
		if err := decode(r, &p); err != nil {
			return 0, nil, err
		}
		u, err := s.core.Users.UpdateUser(c, r.PathValue("user"), p)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, s.core.Users.View(u), nil
	})
}

func (s adminAPI) apiDeleteUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Users.DeleteUser(c, r.PathValue("user"))
	})
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (s adminAPI) apiSetUserPassword(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var req passwordRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.core.Credentials.AdminSetPassword(r.Context(), c, r.PathValue("user"), req.Password)
	})
}

type linkResponse struct {
	Link string `json:"link"`
}

func (s adminAPI) apiResetLink(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		link, err := s.core.Credentials.AdminResetLink(r.Context(), c, r.PathValue("user"))
		return http.StatusCreated, linkResponse{Link: link}, err
	})
}

func (s adminAPI) apiUnlockUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Auth.UnlockUser(c, r.PathValue("user"))
	})
}

func (s adminAPI) apiUserSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		u, err := s.core.Users.FindUser(r.PathValue("user"))
		if err != nil {
			return 0, nil, err
		}
		items, err := s.core.Sessions.UserSessions(u, c.SessionID)
		return http.StatusOK, list[SessionView]{Items: items}, err
	})
}

func (s adminAPI) apiRevokeUserSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		u, err := s.core.Users.FindUser(r.PathValue("user"))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.core.Sessions.RevokeUserSessions(c, u, store.SessionID{})
		return http.StatusNoContent, nil, err
	})
}
