package portal

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// list is the shape of every collection answer.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// apiDo runs one API call: it resolves the caller (401), checks perm when
// not empty (403), runs fn and writes its answer or its error.
func (s *Service) apiDo(w http.ResponseWriter, r *http.Request, perm policies.Permission, fn func(c *caller) (int, any, error)) {
	var c *caller
	if perm == "" {
		c = s.apiCaller(w, r)
	} else {
		c = s.apiRequire(w, r, perm)
	}
	if c == nil {
		return
	}
	status, v, err := fn(c)
	switch {
	case err != nil:
		s.writeAPIError(w, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}

// writeOnly refuses a write with 403 unless c holds perm; it exists so that
// read permissions never imply write.
func need(c *caller, perm policies.Permission) error {
	if !c.can(perm) {
		return &forbiddenError{perm}
	}
	return nil
}

type forbiddenError struct{ perm policies.Permission }

func (e *forbiddenError) Error() string { return "this needs the " + string(e.perm) + " permission" }
func (e *forbiddenError) Unwrap() error { return ErrForbidden }

// decode is decodeJSON as an InputError.
func decode(r *http.Request, v any) error {
	if err := decodeJSON(r, v); err != nil {
		if bodyErrorStatus(err) == http.StatusRequestEntityTooLarge {
			return err
		}
		return &InputError{Msg: err.Error()}
	}
	return nil
}

// Users.

func (s *Service) apiListUsers(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersRead, func(c *caller) (int, any, error) {
		users, next, err := s.searchUsers(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		out := list[UserView]{Items: make([]UserView, len(users)), Next: next}
		for i, u := range users {
			out.Items[i] = s.view(u)
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

func (s *Service) apiCreateUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		var nu NewUser
		if err := decode(r, &nu); err != nil {
			return 0, nil, err
		}
		u, link, err := s.adminCreateUser(r.Context(), c, r, nu)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, createUserResponse{UserView: s.view(u), Link: link}, nil
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

func (s *Service) userDetail(u *store.User, current store.SessionID) (UserDetail, error) {
	sessions, err := s.userSessions(u, current)
	if err != nil {
		return UserDetail{}, err
	}
	locked, err := s.locked(u)
	if err != nil {
		return UserDetail{}, err
	}
	f, _, err := s.factors(u)
	if err != nil {
		return UserDetail{}, err
	}
	return UserDetail{UserView: s.view(u), Sessions: sessions, Locked: locked, TwoFactor: f.Methods}, nil
}

func (s *Service) apiGetUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersRead, func(c *caller) (int, any, error) {
		u, err := s.findUser(r.PathValue("user"))
		if err != nil {
			return 0, nil, err
		}
		d, err := s.userDetail(u, c.sid)
		return http.StatusOK, d, err
	})
}

func (s *Service) apiPatchUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		var p UserPatch
		if err := decode(r, &p); err != nil {
			return 0, nil, err
		}
		u, err := s.updateUser(c, r, r.PathValue("user"), p)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, s.view(u), nil
	})
}

func (s *Service) apiDeleteUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.deleteUser(c, r, r.PathValue("user"))
	})
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (s *Service) apiSetUserPassword(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		var req passwordRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.adminSetPassword(r.Context(), c, r, r.PathValue("user"), req.Password)
	})
}

type linkResponse struct {
	Link string `json:"link"`
}

func (s *Service) apiResetLink(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		link, err := s.adminResetLink(r.Context(), c, r, r.PathValue("user"))
		return http.StatusCreated, linkResponse{Link: link}, err
	})
}

func (s *Service) apiUnlockUser(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.unlockUser(c, r, r.PathValue("user"))
	})
}

func (s *Service) apiUserSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermSessionsRead, func(c *caller) (int, any, error) {
		u, err := s.findUser(r.PathValue("user"))
		if err != nil {
			return 0, nil, err
		}
		items, err := s.userSessions(u, c.sid)
		return http.StatusOK, list[SessionView]{Items: items}, err
	})
}

func (s *Service) apiRevokeUserSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermSessionsRevoke, func(c *caller) (int, any, error) {
		u, err := s.findUser(r.PathValue("user"))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.revokeUserSessions(c, r, u, store.SessionID{})
		return http.StatusNoContent, nil, err
	})
}

func (s *Service) apiExportUsers(w http.ResponseWriter, r *http.Request) {
	c := s.apiRequire(w, r, policies.PermUsersRead)
	if c == nil {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		writeJSONError(w, http.StatusBadRequest, "format: must be csv or json")
		return
	}
	var buf bytes.Buffer
	if err := s.exportUsers(&buf, format); err != nil {
		s.writeAPIError(w, err)
		return
	}
	ct := "text/csv; charset=utf-8"
	if format == "json" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-users.`+format+`"`)
	s.audit(r, store.Event{Actor: c.user.Username, Action: "user.export", Resource: "users", Outcome: outcomeSuccess, Reason: format})
	_, _ = w.Write(buf.Bytes())
}

func (s *Service) apiImportUsers(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersWrite, func(c *caller) (int, any, error) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			if bodyErrorStatus(err) == http.StatusRequestEntityTooLarge {
				return 0, nil, &bodyTooLargeError{limit: maxImportBytes}
			}
			return 0, nil, inputErr("", "the import could not be read")
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
				format = "json"
			} else if strings.HasPrefix(ct, "text/csv") {
				format = "csv"
			}
		}
		rows, base, err := parseImport(data, format)
		if err != nil {
			return 0, nil, err
		}
		dry := r.URL.Query().Get("dry_run")
		res, err := s.importUsers(r.Context(), c, r, rows, base, dry == "1" || dry == "true")
		if err != nil {
			return 0, nil, err
		}
		switch {
		case len(res.Problems) > 0:
			return http.StatusBadRequest, res, nil
		case res.DryRun:
			return http.StatusOK, res, nil
		}
		return http.StatusCreated, res, nil
	})
}

// Groups.

func (s *Service) apiListGroups(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsRead, func(c *caller) (int, any, error) {
		items, err := s.listGroups()
		return http.StatusOK, list[GroupView]{Items: items}, err
	})
}

func (s *Service) apiCreateGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsWrite, func(c *caller) (int, any, error) {
		var in GroupInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		g, err := s.createGroup(c, r, in)
		return http.StatusCreated, g, err
	})
}

// GroupDetail is a group with its members.
type GroupDetail struct {
	GroupView
	Users []UserView `json:"users"`
}

func (s *Service) apiGetGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsRead, func(c *caller) (int, any, error) {
		g, members, err := s.group(r.PathValue("group"))
		if err != nil {
			return 0, nil, err
		}
		d := GroupDetail{GroupView: g, Users: make([]UserView, len(members))}
		for i, u := range members {
			d.Users[i] = s.view(u)
		}
		return http.StatusOK, d, nil
	})
}

func (s *Service) apiPatchGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsWrite, func(c *caller) (int, any, error) {
		var in GroupInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		g, err := s.updateGroup(c, r, r.PathValue("group"), in)
		return http.StatusOK, g, err
	})
}

func (s *Service) apiDeleteGroup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsWrite, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.deleteGroup(c, r, r.PathValue("group"))
	})
}

func (s *Service) apiAddMember(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsWrite, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.setMembership(c, r, r.PathValue("group"), r.PathValue("user"), true)
	})
}

func (s *Service) apiRemoveMember(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermGroupsWrite, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.setMembership(c, r, r.PathValue("group"), r.PathValue("user"), false)
	})
}

// Apps.

func (s *Service) apiListApps(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		out := list[AppView]{Items: []AppView{}}
		for _, a := range s.Apps() {
			if c.can(policies.PermAppsRead) || s.isAppOperator(c.user, a.Name) {
				out.Items = append(out.Items, s.appView(a))
			}
		}
		if len(out.Items) == 0 && !c.can(policies.PermAppsRead) {
			return 0, nil, need(c, policies.PermAppsRead)
		}
		return http.StatusOK, out, nil
	})
}

func (s *Service) apiGetApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		a, err := s.app(r.PathValue("app"))
		if err != nil {
			return 0, nil, err
		}
		if !c.can(policies.PermAppsRead) && !s.isAppOperator(c.user, a.Name) {
			return 0, nil, need(c, policies.PermAppsRead)
		}
		return http.StatusOK, s.appView(a), nil
	})
}

func (s *Service) apiPatchApp(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		var in AppAccessInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.updateAppAccess(c, r, r.PathValue("app"), in)
		return http.StatusOK, v, err
	})
}

// Roles.

func (s *Service) apiListRoles(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermRolesRead, func(c *caller) (int, any, error) {
		items, err := s.listRoles()
		return http.StatusOK, list[RoleView]{Items: items}, err
	})
}

func (s *Service) apiGetRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermRolesRead, func(c *caller) (int, any, error) {
		v, err := s.role(r.PathValue("role"))
		return http.StatusOK, v, err
	})
}

func (s *Service) apiCreateRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersRoles, func(c *caller) (int, any, error) {
		var in RoleInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.createRole(c, r, in)
		return http.StatusCreated, v, err
	})
}

func (s *Service) apiPatchRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersRoles, func(c *caller) (int, any, error) {
		var in RoleInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.updateRole(c, r, r.PathValue("role"), in)
		return http.StatusOK, v, err
	})
}

func (s *Service) apiDeleteRole(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermUsersRoles, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.deleteRole(c, r, r.PathValue("role"))
	})
}

// Sessions.

func (s *Service) apiListSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermSessionsRead, func(c *caller) (int, any, error) {
		items, err := s.onlineSessions(c.sid)
		return http.StatusOK, list[SessionView]{Items: items}, err
	})
}

func (s *Service) apiRevokeSession(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.revokeSession(c, r, r.PathValue("id"))
	})
}

// Invitations.

func (s *Service) apiListInvitations(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermInvitationsRead, func(c *caller) (int, any, error) {
		items, err := s.listInvitations()
		return http.StatusOK, list[InvitationView]{Items: items}, err
	})
}

func (s *Service) apiCreateInvitation(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermInvitationsWrite, func(c *caller) (int, any, error) {
		var in InvitationInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.createInvitation(r.Context(), c, r, in)
		return http.StatusCreated, v, err
	})
}

func (s *Service) apiRevokeInvitation(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermInvitationsWrite, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.revokeInvitation(c, r, r.PathValue("id"))
	})
}

// Audit.

func (s *Service) apiListAudit(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermAuditRead, func(c *caller) (int, any, error) {
		f, after, limit, err := auditQuery(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.listAudit(f, after, limit)
		return http.StatusOK, list[*store.Event]{Items: items, Next: next}, err
	})
}

// Settings.

func (s *Service) apiGetSettings(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermSettingsRead, func(c *caller) (int, any, error) {
		return http.StatusOK, s.cfg(), nil
	})
}

func (s *Service) apiPatchSettings(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermSettingsWrite, func(c *caller) (int, any, error) {
		var raw json.RawMessage
		if err := decode(r, &raw); err != nil {
			return 0, nil, err
		}
		st, err := s.updateSettings(c, r, raw)
		return http.StatusOK, st, err
	})
}

type testMailRequest struct {
	To string `json:"to"`
}

func (s *Service) apiTestMail(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, policies.PermSettingsWrite, func(c *caller) (int, any, error) {
		var req testMailRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.sendTestMail(r.Context(), c, r, req.To)
	})
}

// The caller's own account.

func (s *Service) apiPatchMe(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		var in ProfileInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		res, err := s.updateProfile(c, r, in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, s.view(res.user), nil
	})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
}

func (s *Service) apiChangePassword(w http.ResponseWriter, r *http.Request) {
	// The one call a user with an expired password may make.
	c, res := s.callerOf(r)
	if res != resolvedOK {
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	if c.key != nil {
		writeJSONError(w, http.StatusForbidden, "an API key cannot change the password")
		return
	}
	var req changePasswordRequest
	if err := decode(r, &req); err != nil {
		s.writeAPIError(w, err)
		return
	}
	if err := s.changeOwnPassword(r.Context(), c, r, req.CurrentPassword, req.Password); err != nil {
		s.writeAPIError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) apiMySessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		items, err := s.userSessions(c.user, c.sid)
		return http.StatusOK, list[SessionView]{Items: items}, err
	})
}

func (s *Service) apiRevokeMyOtherSessions(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		_, err := s.revokeUserSessions(c, r, c.user, c.sid)
		return http.StatusNoContent, nil, err
	})
}

type forgotRequest struct {
	Login string `json:"login"`
}

// apiForgot always answers 202, whether or not the account exists.
func (s *Service) apiForgot(w http.ResponseWriter, r *http.Request) {
	var req forgotRequest
	if err := decode(r, &req); err != nil {
		s.writeAPIError(w, err)
		return
	}
	s.forgotPassword(r.Context(), r, req.Login)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "if the account exists and has an email address, a reset link is on its way"})
}
