package portal

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

func (s adminAPI) apiTempPassword(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		_, resp, err := s.core.Credentials.MakeTempPassword(r.Context(), c, r.PathValue("user"))
		return http.StatusCreated, resp, err
	})
}

func (s adminAPI) handleUserTempPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	u, resp, err := s.core.Credentials.MakeTempPassword(r.Context(), c, r.PathValue("user"))
	if err != nil {
		s.usersUI().userFail(w, r, c, err, nil)
		return
	}
	s.usersUI().renderLink(w, r, c, "users", linkData{
		Heading: s.pages.tr(c, "msg.temppassword_api.temporary_password_for", "Username", u.Username),
		Lede:    s.pages.tr(c, "msg.temppassword_api.lede", "Username", u.Username),
		Link:    resp.Password,
		Label:   s.pages.tr(c, "user.temporary_password"),
		Note:    s.pages.tr(c, "msg.temppassword_api.give_it_to", "Username", u.Username, "Until", s.pages.until(c, s.now(), resp.ExpiresAt)),
		Back:    userPath(u), BackLabel: s.pages.tr(c, "msg.temppassword_api.back_to", "Name", u.Username),
	})
}

// userSupport is what the user page offers c on u besides account
// management: impersonation and temporary passwords.
type userSupport struct {
	CanImpersonate        bool
	CanTempPassword       bool
	ImpersonationLifetime time.Duration
	TempPasswordLifetime  time.Duration
	// Credentials are u's outstanding reset links and temporary
	// passwords, shown to owners only (ShowCredentials; credentials.go).
	Credentials     []CredentialView
	ShowCredentials bool
}

func (s adminAPI) userSupport(c *caller, u *store.User) userSupport {
	return userSupport{
		CanImpersonate:        s.usersUI().canImpersonate(c, u),
		CanTempPassword:       !c.Impersonating() && !s.core.Directory.Manages(u) && c.User.ID != u.ID && c.Can(policies.PermUsersWrite) && s.core.Users.MayManage(c, u) == nil && core.UserActive(u, s.now()),
		ImpersonationLifetime: s.core.Sessions.ImpersonationLifetime(),
		TempPasswordLifetime:  s.core.Credentials.TempPasswordLifetime(),
		Credentials:           s.core.Credentials.UserCredentials(c, u),
		ShowCredentials:       core.MayListCredentials(c) == nil,
	}
}
