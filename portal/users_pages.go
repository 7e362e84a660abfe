package portal

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// userRow is one line of the user list.
type userRow struct {
	UserView
	State string
	URL   string
}

// usersData is the content of /admin/users.
type usersData struct {
	Rows                   []userRow
	Q, Role, Group, Status string
	Roles, Groups          []string
	NextURL, FirstURL      string
	Filtered               bool
	// Directory: an external directory is configured (the Synchronize
	// button); LastSync is its last synchronisation's report.
	Directory bool
	LastSync  *core.SyncReport
}

// searchUsers is the search of GET /api/v1/users (apiListUsers): the same
// query parameters, checks and store call.
func (s usersUI) searchUsers(q url.Values) ([]*store.User, string, error) {
	limit, err := limitParam(q)
	if err != nil {
		return nil, "", err
	}
	f := store.UserFilter{Query: q.Get("q"), Role: q.Get("role"), Group: q.Get("group"), Status: q.Get("status")}
	if f.Status != "" && f.Status != "active" && f.Status != "disabled" {
		return nil, "", inputErr("status", "must be active or disabled")
	}
	return s.store.SearchUsers(f, q.Get("after"), limit)
}

// userState names u's state: disabled, expired or active.
func userState(u *store.User, now time.Time) string {
	switch {
	case u.Disabled:
		return "disabled"
	case !u.ExpiresAt.IsZero() && !now.Before(u.ExpiresAt):
		return "expired"
	}
	return "active"
}

func (s usersUI) groupNames() []string {
	var out []string
	if gs, err := s.core.Access.ListGroups(); err == nil {
		for _, g := range gs {
			out = append(out, g.Name)
		}
	}
	return out
}

func (s usersUI) handleUsers(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.users"), "users")
	d := usersData{Q: q.Get("q"), Role: q.Get("role"), Group: q.Get("group"), Status: q.Get("status"),
		Roles: s.core.RoleNames(), Groups: s.groupNames(), Directory: s.core.Directory.Enabled(), LastSync: s.core.Directory.LastSync()}
	d.Filtered = d.Q != "" || d.Role != "" || d.Group != "" || d.Status != ""
	status := http.StatusOK
	users, next, err := s.searchUsers(q)
	if err != nil {
		status, p.Error = s.failMsg(err)
	}
	now := s.now()
	for _, u := range users {
		d.Rows = append(d.Rows, userRow{UserView: s.core.Users.View(u), State: userState(u, now), URL: userPath(u)})
	}
	if next != "" {
		d.NextURL = pageURL("/admin/users", q, next)
	}
	if q.Get("after") != "" {
		d.FirstURL = pageURL("/admin/users", q, "")
	}
	p.Data = d
	s.render(w, r, status, "users", p)
}

// newUserData is the content of /admin/users/new.
type newUserData struct {
	Roles, Groups []string
	PasswordRules string
	MailEnabled   bool
}

func (s usersUI) handleNewUserPage(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderNewUser(w, r, c, http.StatusOK, "", map[string]string{"role": policies.RoleUser})
}

func (s usersUI) renderNewUser(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	p := s.basePage(w, r, c, s.pages.tr(c, "users.new_user"), "users")
	p.Error, p.Form = errMsg, form
	p.Data = newUserData{Roles: s.assignableRoles(c), Groups: s.groupNames(),
		PasswordRules: s.core.PasswordRules().Describe(), MailEnabled: s.mail.Enabled()}
	s.render(w, r, status, "user_new", p)
}

// assignableRoles lists the roles c may give a new account (the service
// checks again).
func (s usersUI) assignableRoles(c *caller) []string {
	var out []string
	for _, name := range s.core.RoleNames() {
		if s.core.Users.CheckAssign(c, name) == nil {
			out = append(out, name)
		}
	}
	return out
}

func (s usersUI) handleNewUserForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	nu := NewUser{Username: f.Get("username"), Email: f.Get("email"), FallbackEmail: f.Get("fallback_email"),
		FullName: f.Get("full_name"), Role: f.Get("role"), Groups: splitList(f.Get("groups")), Password: f.Get("password")}
	form := map[string]string{"username": nu.Username, "email": nu.Email, "fallback_email": nu.FallbackEmail,
		"full_name": nu.FullName, "role": nu.Role, "groups": f.Get("groups")}
	if nu.Password != "" && nu.Password != f.Get("password2") {
		s.renderNewUser(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.invitations.the_two_passwords_do"), form)
		return
	}
	u, link, err := s.core.Users.AdminCreateUser(r.Context(), c, nu)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderNewUser(w, r, c, status, msg, form)
		return
	}
	if link == "" {
		s.done(w, r, c, userPath(u), s.pages.tr(c, "msg.users.user", "Username", u.Username)+".")
		return
	}
	expires := s.pages.until(c, s.now(), s.now().Add(time.Duration(s.core.Settings().InviteLifetime)))
	note := s.pages.tr(c, "msg.users.send_new_account_link", "Expires", expires)
	if to := core.RecoveryAddresses(u); len(to) > 0 && s.mail.Enabled() {
		note = s.pages.tr(c, "msg.users.also_emailed", "To", strings.Join(to, ", "), "Expires", expires)
	}
	s.renderLink(w, r, c, "users", linkData{
		Heading: s.pages.tr(c, "msg.users.user", "Username", u.Username),
		Lede:    s.pages.tr(c, "msg.users.they_choose_their_password"),
		Link:    link, Note: note,
		Back: userPath(u), BackLabel: s.pages.tr(c, "msg.users.view", "Username", u.Username),
		Next: "/admin/users/new", NextLabel: s.pages.tr(c, "msg.users.create_another_user"),
	})
}

// linkData is the content of the page that shows a new secret link.
type linkData struct {
	Heading, Lede, Link, Note string
	// Label names what Link is ("API key"); default "Link".
	Label           string
	Back, BackLabel string
	Next, NextLabel string
}

func (s usersUI) renderLink(w http.ResponseWriter, r *http.Request, c *caller, section string, d linkData) {
	p := s.basePage(w, r, c, d.Heading, section)
	p.Data = d
	s.render(w, r, http.StatusOK, "link", p)
}

// userPageData is the content of /admin/users/{user}.
type userPageData struct {
	Detail            UserDetail
	Path              string
	States            []string
	Roles, Groups     []string
	Self              bool
	HasPassword       bool
	PasswordChangedAt time.Time
	PasswordRules     string
	Expired           bool
	// Support holds the impersonation and temporary-password controls
	// the caller may use on this user.
	Support userSupport
	// AppPasswords are the user's app passwords; RevokeAppPasswords: the
	// caller may revoke them here (not their own: that is the profile).
	AppPasswords       []core.AppPasswordView
	RevokeAppPasswords bool
	// Directory: the user's password and profile come from the external
	// directory.
	Directory bool
}

func (s usersUI) handleUser(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderUser(w, r, c, http.StatusOK, "", nil)
}

// renderUser shows the user of the request's path; form, when not nil,
// holds submitted values to show again after a failure.
func (s usersUI) renderUser(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	u, err := s.core.Users.FindUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	d, err := s.adminAPI().userDetail(u, c.SessionID)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	title := u.Username
	if u.FullName != "" {
		title = u.FullName
	}
	p := s.basePage(w, r, c, title, "users")
	p.Error = errMsg
	p.Form = map[string]string{"email": u.Email, "fallback_email": u.FallbackEmail, "full_name": u.FullName,
		"expires_at": dateOf(u.ExpiresAt), "role": u.Role, "groups": strings.Join(u.Groups, ", ")}
	for k, v := range form {
		p.Form[k] = v
	}
	now := s.now()
	states := []string{userState(u, now)}
	if d.Locked {
		states = append(states, "locked")
	}
	roles := s.core.RoleNames()
	appPasswords, err := s.core.Credentials.ListUserAppPasswords(c, u.ID)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	revokeAppPasswords := u.ID != c.User.ID && !c.Impersonating() && c.Key == nil &&
		c.Can(policies.PermUsersWrite) && s.core.Users.MayManage(c, u) == nil
	p.Data = userPageData{Detail: d, Path: userPath(u), States: states, Roles: roles, Groups: s.groupNames(),
		Self: u.ID == c.User.ID, HasPassword: u.PasswordHash != "", PasswordChangedAt: u.PasswordChangedAt,
		PasswordRules: s.core.PasswordRules().Describe(), Expired: s.core.PasswordExpired(u.PasswordChangedAt), Support: s.adminAPI().userSupport(c, u),
		AppPasswords: appPasswords, RevokeAppPasswords: revokeAppPasswords, Directory: s.core.Directory.Manages(u)}
	s.render(w, r, status, "user", p)
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// userDone ends a successful form of the user page.
func (s usersUI) userDone(w http.ResponseWriter, r *http.Request, c *caller, msg string) {
	to := "/admin/users/" + url.PathEscape(r.PathValue("user"))
	if u, err := s.core.Users.FindUser(r.PathValue("user")); err == nil {
		to = userPath(u)
	}
	s.done(w, r, c, to, msg)
}

// userFail re-renders the user page after a failed form.
func (s usersUI) userFail(w http.ResponseWriter, r *http.Request, c *caller, err error, form map[string]string) {
	status, msg := s.failMsg(err)
	s.renderUser(w, r, c, status, msg, form)
}

func (s usersUI) handleUserDetails(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	u, err := s.core.Users.FindUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	email, fallback, name, exp := f.Get("email"), f.Get("fallback_email"), f.Get("full_name"), strings.TrimSpace(f.Get("expires_at"))
	patch := UserPatch{Email: &email, FallbackEmail: &fallback, FullName: &name}
	// The form shows the expiry as a date: send it only when it changed,
	// so that saving other fields never moves an expiry set to the minute.
	if exp != dateOf(u.ExpiresAt) {
		patch.ExpiresAt = &exp
	}
	if _, err := s.core.Users.UpdateUser(c, u.ID, patch); err != nil {
		s.userFail(w, r, c, err, map[string]string{"email": email, "fallback_email": fallback, "full_name": name, "expires_at": exp})
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.users.details_saved"))
}

func (s usersUI) handleUserRole(w http.ResponseWriter, r *http.Request, c *caller) {
	role := strings.TrimSpace(r.PostForm.Get("role"))
	u, err := s.core.Users.FindUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if role == u.Role {
		s.userDone(w, r, c, s.pages.tr(c, "msg.users.the_role_is_unchanged"))
		return
	}
	if _, err := s.core.Users.UpdateUser(c, u.ID, UserPatch{Role: &role}); err != nil {
		s.userFail(w, r, c, err, map[string]string{"role": role})
		return
	}
	s.userDone(w, r, c, "Role changed to "+role+".")
}

func (s usersUI) handleUserGroups(w http.ResponseWriter, r *http.Request, c *caller) {
	v := r.PostForm.Get("groups")
	groups := splitList(v)
	if _, err := s.core.Users.UpdateUser(c, r.PathValue("user"), UserPatch{Groups: &groups}); err != nil {
		s.userFail(w, r, c, err, map[string]string{"groups": v})
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.users.groups_saved"))
}

func (s usersUI) handleUserStatus(w http.ResponseWriter, r *http.Request, c *caller) {
	active := r.PostForm.Get("active") == "1"
	if _, err := s.core.Users.UpdateUser(c, r.PathValue("user"), UserPatch{Active: &active}); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	if active {
		s.userDone(w, r, c, s.pages.tr(c, "msg.users.the_account_was_enabled"))
	} else {
		s.userDone(w, r, c, s.pages.tr(c, "msg.users.the_account_was_disabled"))
	}
}

func (s usersUI) handleUserDelete(w http.ResponseWriter, r *http.Request, c *caller) {
	if r.PostForm.Get("confirm") != "yes" {
		s.renderUser(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.users.tick_the_box_to"), nil)
		return
	}
	u, err := s.core.Users.FindUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if err := s.core.Users.DeleteUser(c, u.ID); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.done(w, r, c, "/admin/users", s.pages.tr(c, "msg.users.deleted", "Name", u.Username))
}

func (s usersUI) handleUserPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		s.renderUser(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.invitations.the_two_passwords_do"), nil)
		return
	}
	if err := s.core.Credentials.AdminSetPassword(r.Context(), c, r.PathValue("user"), pw); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.users.the_password_was_set"))
}

func (s usersUI) handleUserResetLink(w http.ResponseWriter, r *http.Request, c *caller) {
	u, err := s.core.Users.FindUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	link, err := s.core.Credentials.AdminResetLink(r.Context(), c, u.ID)
	if err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	expires := s.pages.until(c, s.now(), s.now().Add(time.Duration(s.core.Settings().ResetLifetime)))
	note := s.pages.tr(c, "msg.users.send_reset_link", "Username", u.Username, "Expires", expires)
	if to := core.RecoveryAddresses(u); len(to) > 0 && s.mail.Enabled() {
		note = s.pages.tr(c, "msg.users.also_emailed", "To", strings.Join(to, ", "), "Expires", expires) + " " + s.pages.tr(c, "msg.users.earlier_links_stop")
	}
	s.renderLink(w, r, c, "users", linkData{
		Heading: s.pages.tr(c, "msg.users.password_reset_link_for", "Username", u.Username),
		Lede:    s.pages.tr(c, "msg.users.whoever_opens_this_link"),
		Link:    link, Note: note,
		Back: userPath(u), BackLabel: s.pages.tr(c, "msg.temppassword_api.back_to", "Name", u.Username),
	})
}

func (s usersUI) handleUserUnlock(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Auth.UnlockUser(c, r.PathValue("user")); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.users.the_account_was_unlocked"))
}

func (s usersUI) handleUserRevokeSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	u, err := s.core.Users.FindUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	n, err := s.core.Sessions.RevokeUserSessions(c, u, store.SessionID{})
	if err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.users.sessions_signed_out", "Count", n))
}

func (s usersUI) handleUserRevokeSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Sessions.RevokeSession(c, r.PathValue("id")); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, s.pages.tr(c, "msg.profile.the_session_was_signed"))
}
