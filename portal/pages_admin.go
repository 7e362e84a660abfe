package portal

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The admin pages. Every handler is registered in routes_pages.go behind
// the permission of the JSON API call it mirrors, and calls the same
// service method, so the pages and the API enforce the same rules.

// splitList reads a list typed into one field: names separated by commas,
// semicolons, spaces or line breaks.
func splitList(v string) []string {
	out := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	if out == nil {
		out = []string{}
	}
	return out
}

// failMsg is statusOf for a page: the status, and the message as a
// sentence naming the form field by its label.
func (s *Service) failMsg(err error) (int, string) {
	status, msg := s.statusOf(err)
	return status, sentence(msg)
}

// fieldLabels name the fields of service errors as the forms label them.
var fieldLabels = map[string]string{
	"username": "Username", "email": "Email", "fallback_email": "Fallback email", "full_name": "Full name",
	"role": "Role", "groups": "Groups", "password": "Password", "current_password": "Current password",
	"expires_at": "Expiry date", "name": "Name", "description": "Description",
	"allow_groups": "Allowed groups", "allow_users": "Allowed users", "operators": "Operators",
	"permissions": "Permissions", "to": "Recipient", "user": "User", "action": "Action", "since": "From",
	"until": "To", "session_idle": "Idle timeout", "session_lifetime": "Session lifetime",
	"session_remember": "“Keep me signed in” lifetime", "lockout_threshold": "Lockout threshold",
	"lockout_duration": "Lockout duration", "password_max_age": "Password maximum age",
	"password_rules": "Password rules", "min_length": "Minimum length", "max_length": "Maximum length",
	"invite_lifetime": "Invitation lifetime", "reset_lifetime": "Reset link lifetime",
	"audit_retention": "Audit retention", "impersonation_lifetime": "Impersonation lifetime",
	"temp_password_lifetime": "Temporary password lifetime",
}

// Users.

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
}

// searchUsers is the search of GET /api/v1/users (apiListUsers): the same
// query parameters, checks and store call.
func (s *Service) searchUsers(q url.Values) ([]*store.User, string, error) {
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

func (s *Service) groupNames() []string {
	var out []string
	if gs, err := s.listGroups(); err == nil {
		for _, g := range gs {
			out = append(out, g.Name)
		}
	}
	return out
}

func (s *Service) handleUsers(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	p := s.basePage(w, r, c, "Users", "users")
	d := usersData{Q: q.Get("q"), Role: q.Get("role"), Group: q.Get("group"), Status: q.Get("status"),
		Roles: s.roleNames(), Groups: s.groupNames()}
	d.Filtered = d.Q != "" || d.Role != "" || d.Group != "" || d.Status != ""
	status := http.StatusOK
	users, next, err := s.searchUsers(q)
	if err != nil {
		status, p.Error = s.failMsg(err)
	}
	now := s.now()
	for _, u := range users {
		d.Rows = append(d.Rows, userRow{UserView: s.view(u), State: userState(u, now), URL: userPath(u)})
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("after", next)
		d.NextURL = "/admin/users?" + nq.Encode()
	}
	if q.Get("after") != "" {
		fq := url.Values{}
		for k, v := range q {
			if k != "after" {
				fq[k] = v
			}
		}
		d.FirstURL = "/admin/users"
		if len(fq) > 0 {
			d.FirstURL += "?" + fq.Encode()
		}
	}
	p.Data = d
	s.render(w, status, "users", p)
}

// newUserData is the content of /admin/users/new.
type newUserData struct {
	Roles, Groups []string
	PasswordRules string
	MailEnabled   bool
}

func (s *Service) handleNewUserPage(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderNewUser(w, r, c, http.StatusOK, "", map[string]string{"role": policies.RoleUser})
}

func (s *Service) renderNewUser(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	p := s.basePage(w, r, c, "New user", "users")
	p.Error, p.Form = errMsg, form
	p.Data = newUserData{Roles: s.assignableRoles(c), Groups: s.groupNames(),
		PasswordRules: s.passwordRules().Describe(), MailEnabled: s.mail.Enabled()}
	s.render(w, status, "user_new", p)
}

// assignableRoles lists the roles c may give a new account (the service
// checks again).
func (s *Service) assignableRoles(c *caller) []string {
	var out []string
	for _, name := range s.roleNames() {
		if checkAssign(s, c, name) == nil {
			out = append(out, name)
		}
	}
	return out
}

func (s *Service) handleNewUserForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	nu := NewUser{Username: f.Get("username"), Email: f.Get("email"), FallbackEmail: f.Get("fallback_email"),
		FullName: f.Get("full_name"), Role: f.Get("role"), Groups: splitList(f.Get("groups")), Password: f.Get("password")}
	form := map[string]string{"username": nu.Username, "email": nu.Email, "fallback_email": nu.FallbackEmail,
		"full_name": nu.FullName, "role": nu.Role, "groups": f.Get("groups")}
	if nu.Password != "" && nu.Password != f.Get("password2") {
		s.renderNewUser(w, r, c, http.StatusBadRequest, "The two passwords do not match.", form)
		return
	}
	u, link, err := s.adminCreateUser(r.Context(), c, r, nu)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderNewUser(w, r, c, status, msg, form)
		return
	}
	if link == "" {
		s.done(w, r, c, userPath(u), "User "+u.Username+" was created.")
		return
	}
	note := "Send it to them: it works once, and expires " + fmtUntil(s.now(), s.now().Add(time.Duration(s.cfg().InviteLifetime))) + "."
	if to := recoveryAddresses(u); len(to) > 0 && s.mail.Enabled() {
		note = "Gatehouse also emailed it to " + strings.Join(to, " and ") + ". It works once, and expires " +
			fmtUntil(s.now(), s.now().Add(time.Duration(s.cfg().InviteLifetime))) + "."
	}
	s.renderLink(w, r, c, "users", linkData{
		Heading: "User " + u.Username + " was created",
		Lede:    "They choose their password with this link.",
		Link:    link, Note: note,
		Back: userPath(u), BackLabel: "View " + u.Username,
		Next: "/admin/users/new", NextLabel: "Create another user",
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

func (s *Service) renderLink(w http.ResponseWriter, r *http.Request, c *caller, section string, d linkData) {
	p := s.basePage(w, r, c, d.Heading, section)
	p.Data = d
	s.render(w, http.StatusOK, "link", p)
}

// importData is the content of /admin/users/import.
type importData struct {
	Result *ImportResult
}

func (s *Service) handleImportPage(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderImport(w, r, c, http.StatusOK, "", map[string]string{"dry_run": "1"}, nil)
}

func (s *Service) renderImport(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string, res *ImportResult) {
	p := s.basePage(w, r, c, "Import users", "users")
	p.Error, p.Form = errMsg, form
	p.Data = importData{Result: res}
	s.render(w, status, "user_import", p)
}

// handleImportForm imports users from an uploaded file or pasted text, as
// POST /api/v1/users/import does.
func (s *Service) handleImportForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	format, dry := f.Get("format"), f.Get("dry_run") != ""
	form := map[string]string{"format": format, "data": f.Get("data")}
	if dry {
		form["dry_run"] = "1"
	}
	var data []byte
	if file, hdr, err := r.FormFile("file"); err == nil {
		data, err = io.ReadAll(file)
		_ = file.Close()
		if err != nil {
			s.renderImport(w, r, c, http.StatusBadRequest, "The file could not be read.", form, nil)
			return
		}
		if format == "" {
			switch name := strings.ToLower(hdr.Filename); {
			case strings.HasSuffix(name, ".json"):
				format = "json"
			case strings.HasSuffix(name, ".csv"):
				format = "csv"
			}
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte(f.Get("data"))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		s.renderImport(w, r, c, http.StatusBadRequest, "Choose a file or paste the users to import.", form, nil)
		return
	}
	rows, base, err := parseImport(data, format)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderImport(w, r, c, status, msg, form, nil)
		return
	}
	res, err := s.importUsers(r.Context(), c, r, rows, base, dry)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderImport(w, r, c, status, msg, form, &res)
		return
	}
	status := http.StatusOK
	switch {
	case len(res.Problems) > 0:
		status = http.StatusBadRequest
		p := "problems"
		if len(res.Problems) == 1 {
			p = "problem"
		}
		s.renderImport(w, r, c, status, "Nothing was imported: the file has "+strconv.Itoa(len(res.Problems))+" "+p+".", form, &res)
		return
	case !res.DryRun:
		form["data"] = ""
	}
	s.renderImport(w, r, c, status, "", form, &res)
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
}

func (s *Service) handleUser(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderUser(w, r, c, http.StatusOK, "", nil)
}

// renderUser shows the user of the request's path; form, when not nil,
// holds submitted values to show again after a failure.
func (s *Service) renderUser(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	u, err := s.findUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	d, err := s.userDetail(u, c.sid)
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
	roles := s.roleNames()
	p.Data = userPageData{Detail: d, Path: userPath(u), States: states, Roles: roles, Groups: s.groupNames(),
		Self: u.ID == c.user.ID, HasPassword: u.PasswordHash != "", PasswordChangedAt: u.PasswordChangedAt,
		PasswordRules: s.passwordRules().Describe(), Expired: s.passwordExpired(u.PasswordChangedAt), Support: s.userSupport(c, u)}
	s.render(w, status, "user", p)
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// userDone ends a successful form of the user page.
func (s *Service) userDone(w http.ResponseWriter, r *http.Request, c *caller, msg string) {
	to := "/admin/users/" + url.PathEscape(r.PathValue("user"))
	if u, err := s.findUser(r.PathValue("user")); err == nil {
		to = userPath(u)
	}
	s.done(w, r, c, to, msg)
}

// userFail re-renders the user page after a failed form.
func (s *Service) userFail(w http.ResponseWriter, r *http.Request, c *caller, err error, form map[string]string) {
	status, msg := s.failMsg(err)
	s.renderUser(w, r, c, status, msg, form)
}

func (s *Service) handleUserDetails(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	u, err := s.findUser(r.PathValue("user"))
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
	if _, err := s.updateUser(c, r, u.ID, patch); err != nil {
		s.userFail(w, r, c, err, map[string]string{"email": email, "fallback_email": fallback, "full_name": name, "expires_at": exp})
		return
	}
	s.userDone(w, r, c, "Details saved.")
}

func (s *Service) handleUserRole(w http.ResponseWriter, r *http.Request, c *caller) {
	role := strings.TrimSpace(r.PostForm.Get("role"))
	u, err := s.findUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if role == u.Role {
		s.userDone(w, r, c, "The role is unchanged.")
		return
	}
	if _, err := s.updateUser(c, r, u.ID, UserPatch{Role: &role}); err != nil {
		s.userFail(w, r, c, err, map[string]string{"role": role})
		return
	}
	s.userDone(w, r, c, "Role changed to "+role+".")
}

func (s *Service) handleUserGroups(w http.ResponseWriter, r *http.Request, c *caller) {
	v := r.PostForm.Get("groups")
	groups := splitList(v)
	if _, err := s.updateUser(c, r, r.PathValue("user"), UserPatch{Groups: &groups}); err != nil {
		s.userFail(w, r, c, err, map[string]string{"groups": v})
		return
	}
	s.userDone(w, r, c, "Groups saved.")
}

func (s *Service) handleUserStatus(w http.ResponseWriter, r *http.Request, c *caller) {
	active := r.PostForm.Get("active") == "1"
	if _, err := s.updateUser(c, r, r.PathValue("user"), UserPatch{Active: &active}); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	if active {
		s.userDone(w, r, c, "The account was enabled.")
	} else {
		s.userDone(w, r, c, "The account was disabled and its sessions were ended.")
	}
}

func (s *Service) handleUserDelete(w http.ResponseWriter, r *http.Request, c *caller) {
	if r.PostForm.Get("confirm") != "yes" {
		s.renderUser(w, r, c, http.StatusBadRequest, "Tick the box to confirm that the account should be deleted.", nil)
		return
	}
	u, err := s.findUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if err := s.deleteUser(c, r, u.ID); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.done(w, r, c, "/admin/users", "User "+u.Username+" was deleted.")
}

func (s *Service) handleUserPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		s.renderUser(w, r, c, http.StatusBadRequest, "The two passwords do not match.", nil)
		return
	}
	if err := s.adminSetPassword(r.Context(), c, r, r.PathValue("user"), pw); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, "The password was set and every session of the account was ended.")
}

func (s *Service) handleUserResetLink(w http.ResponseWriter, r *http.Request, c *caller) {
	u, err := s.findUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	link, err := s.adminResetLink(r.Context(), c, r, u.ID)
	if err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	expires := fmtUntil(s.now(), s.now().Add(time.Duration(s.cfg().ResetLifetime)))
	note := "Send it to " + u.Username + ": it works once, and expires " + expires + ". Any earlier link stops working."
	if to := recoveryAddresses(u); len(to) > 0 && s.mail.Enabled() {
		note = "Gatehouse also emailed it to " + strings.Join(to, " and ") + ". It works once, and expires " + expires + ". Any earlier link stops working."
	}
	s.renderLink(w, r, c, "users", linkData{
		Heading: "Password reset link for " + u.Username,
		Lede:    "Whoever opens this link can choose a new password for the account.",
		Link:    link, Note: note,
		Back: userPath(u), BackLabel: "Back to " + u.Username,
	})
}

func (s *Service) handleUserUnlock(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.unlockUser(c, r, r.PathValue("user")); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, "The account was unlocked.")
}

func (s *Service) handleUserRevokeSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	u, err := s.findUser(r.PathValue("user"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	n, err := s.revokeUserSessions(c, r, u, store.SessionID{})
	if err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, plural(n, "session was", "sessions were")+" signed out.")
}

func (s *Service) handleUserRevokeSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeSession(c, r, r.PathValue("id")); err != nil {
		s.userFail(w, r, c, err, nil)
		return
	}
	s.userDone(w, r, c, "The session was signed out.")
}

// Groups.

// groupsData is the content of /admin/groups.
type groupsData struct{ Groups []GroupView }

func (s *Service) handleGroups(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderGroups(w, r, c, http.StatusOK, "", nil)
}

func (s *Service) renderGroups(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	groups, err := s.listGroups()
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, "Groups", "groups")
	p.Error = errMsg
	if form != nil {
		p.Form = form
	}
	p.Data = groupsData{Groups: groups}
	s.render(w, status, "groups", p)
}

func (s *Service) handleCreateGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	name, desc := r.PostForm.Get("name"), r.PostForm.Get("description")
	g, err := s.createGroup(c, r, GroupInput{Name: &name, Description: &desc})
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

func (s *Service) handleGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderGroup(w, r, c, http.StatusOK, "", nil)
}

func (s *Service) renderGroup(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	g, members, err := s.group(r.PathValue("group"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, "Group "+g.Name, "groups")
	p.Error = errMsg
	p.Form = map[string]string{"name": g.Name, "description": g.Description}
	for k, v := range form {
		p.Form[k] = v
	}
	d := groupData{Group: g, Members: make([]UserView, len(members)), Path: "/admin/groups/" + url.PathEscape(g.Name)}
	for i, u := range members {
		d.Members[i] = s.view(u)
	}
	p.Data = d
	s.render(w, status, "group", p)
}

func (s *Service) handleEditGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	name, desc := r.PostForm.Get("name"), r.PostForm.Get("description")
	g, err := s.updateGroup(c, r, r.PathValue("group"), GroupInput{Name: &name, Description: &desc})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, map[string]string{"name": name, "description": desc})
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(g.Name), "Group saved.")
}

func (s *Service) handleDeleteGroup(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("group")
	if r.PostForm.Get("confirm") != "yes" {
		s.renderGroup(w, r, c, http.StatusBadRequest, "Tick the box to confirm that the group should be deleted.", nil)
		return
	}
	if err := s.deleteGroup(c, r, name); err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/groups", "Group "+name+" was deleted.")
}

func (s *Service) handleAddMember(w http.ResponseWriter, r *http.Request, c *caller) {
	name := strings.TrimSpace(r.PostForm.Get("username"))
	if name == "" {
		s.renderGroup(w, r, c, http.StatusBadRequest, "Enter the username of the member to add.", nil)
		return
	}
	if err := s.setMembership(c, r, r.PathValue("group"), name, true); err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, map[string]string{"username": name})
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(r.PathValue("group")), policies.NormalizeUsername(name)+" was added to the group.")
}

func (s *Service) handleRemoveMember(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("user")
	if err := s.setMembership(c, r, r.PathValue("group"), name, false); err != nil {
		status, msg := s.failMsg(err)
		s.renderGroup(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/groups/"+url.PathEscape(r.PathValue("group")), name+" was removed from the group.")
}

// Apps.

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
func (s *Service) handleApps(w http.ResponseWriter, r *http.Request, c *caller) {
	var d appsData
	for _, a := range s.Apps() {
		if c.can(policies.PermAppsRead) || s.isAppOperator(c.user, a.Name) {
			d.Apps = append(d.Apps, appRow{AppView: s.appView(a), CanEdit: s.mayEditApp(c, a.Name)})
		}
	}
	if len(d.Apps) == 0 && !c.can(policies.PermAppsRead) {
		s.pageFail(w, r, c, need(c, policies.PermAppsRead))
		return
	}
	d.Snippet = appSnippet(s.portal)
	p := s.basePage(w, r, c, "Apps", "apps")
	p.Data = d
	s.render(w, http.StatusOK, "apps", p)
}

// appData is the content of /admin/apps/{app}.
type appData struct {
	App                   AppView
	Path                  string
	CanEdit, CanOperators bool
	Groups                []string
}

func (s *Service) handleApp(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderApp(w, r, c, http.StatusOK, "", nil)
}

// renderApp shows an app to a holder of apps.read or one of its operators
// (as GET /api/v1/apps/{app}).
func (s *Service) renderApp(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	a, err := s.app(r.PathValue("app"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	if !c.can(policies.PermAppsRead) && !s.isAppOperator(c.user, a.Name) {
		s.pageFail(w, r, c, need(c, policies.PermAppsRead))
		return
	}
	v := s.appView(a)
	p := s.basePage(w, r, c, v.Title, "apps")
	p.Error = errMsg
	p.Form = map[string]string{"allow_groups": strings.Join(v.AllowGroups, ", "), "allow_users": strings.Join(v.AllowUsers, ", "),
		"operators": strings.Join(v.Operators, ", ")}
	for k, val := range form {
		p.Form[k] = val
	}
	p.Data = appData{App: v, Path: "/admin/apps/" + url.PathEscape(a.Name), CanEdit: s.mayEditApp(c, a.Name) && !a.Configured,
		CanOperators: c.can(policies.PermAppsWrite), Groups: s.groupNames()}
	s.render(w, status, "app", p)
}

func (s *Service) handleAppAccess(w http.ResponseWriter, r *http.Request, c *caller) {
	gv, uv := r.PostForm.Get("allow_groups"), r.PostForm.Get("allow_users")
	groups, users := splitList(gv), splitList(uv)
	require2FA := r.PostForm.Get("require_2fa") != ""
	v, err := s.updateAppAccess(c, r, r.PathValue("app"), AppAccessInput{AllowGroups: &groups, AllowUsers: &users, Require2FA: &require2FA})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderApp(w, r, c, status, msg, map[string]string{"allow_groups": gv, "allow_users": uv})
		return
	}
	msg := "Access saved: only the listed groups and users may open " + v.Title + "."
	if v.Open {
		msg = "Access saved: every signed-in user may open " + v.Title + "."
	}
	s.done(w, r, c, "/admin/apps/"+url.PathEscape(v.Name), msg)
}

func (s *Service) handleAppOperators(w http.ResponseWriter, r *http.Request, c *caller) {
	ov := r.PostForm.Get("operators")
	ops := splitList(ov)
	v, err := s.updateAppAccess(c, r, r.PathValue("app"), AppAccessInput{Operators: &ops})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderApp(w, r, c, status, msg, map[string]string{"operators": ov})
		return
	}
	s.done(w, r, c, "/admin/apps/"+url.PathEscape(v.Name), "Operators saved.")
}

// Roles.

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

func (s *Service) handleRoles(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderRoles(w, r, c, http.StatusOK, "", nil, nil)
}

func (s *Service) renderRoles(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string, perms []string) {
	roles, err := s.listRoles()
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, "Roles", "roles")
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
	s.render(w, status, "roles", p)
}

func (s *Service) handleCreateRole(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	name, desc := f.Get("name"), f.Get("description")
	perms := append([]string{}, f["permissions"]...)
	v, err := s.createRole(c, r, RoleInput{Name: name, Description: &desc, Permissions: &perms})
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

func (s *Service) handleRole(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderRole(w, r, c, http.StatusOK, "", nil, nil)
}

func (s *Service) renderRole(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string, perms []string) {
	v, err := s.role(r.PathValue("role"))
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, "Role "+v.Name, "roles")
	p.Error = errMsg
	p.Form = map[string]string{"description": v.Description}
	for k, val := range form {
		p.Form[k] = val
	}
	if perms == nil {
		perms = v.Permissions
	}
	p.Data = roleData{Role: v, Path: "/admin/roles/" + url.PathEscape(v.Name), Perms: permAreas(perms)}
	s.render(w, status, "role", p)
}

func (s *Service) handleEditRole(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	desc := f.Get("description")
	perms := append([]string{}, f["permissions"]...)
	v, err := s.updateRole(c, r, r.PathValue("role"), RoleInput{Description: &desc, Permissions: &perms})
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderRole(w, r, c, status, msg, map[string]string{"description": desc}, perms)
		return
	}
	s.done(w, r, c, "/admin/roles/"+url.PathEscape(v.Name), "Role saved.")
}

func (s *Service) handleDeleteRole(w http.ResponseWriter, r *http.Request, c *caller) {
	name := r.PathValue("role")
	if r.PostForm.Get("confirm") != "yes" {
		s.renderRole(w, r, c, http.StatusBadRequest, "Tick the box to confirm that the role should be deleted.", nil, nil)
		return
	}
	if err := s.deleteRole(c, r, name); err != nil {
		status, msg := s.failMsg(err)
		s.renderRole(w, r, c, status, msg, nil, nil)
		return
	}
	s.done(w, r, c, "/admin/roles", "Role "+name+" was deleted.")
}

// Sessions.

// sessionsData is the content of /admin/sessions.
type sessionsData struct {
	Sessions []SessionView
	Users    int
}

func (s *Service) handleSessions(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderSessions(w, r, c, http.StatusOK, "")
}

func (s *Service) renderSessions(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string) {
	items, err := s.onlineSessions(c.sid)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	users := map[string]bool{}
	for _, it := range items {
		users[it.Username] = true
	}
	p := s.basePage(w, r, c, "Sessions", "sessions")
	p.Error = errMsg
	p.Data = sessionsData{Sessions: items, Users: len(users)}
	s.render(w, status, "sessions", p)
}

func (s *Service) handleRevokeSession(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeSession(c, r, r.PathValue("id")); err != nil {
		status, msg := s.failMsg(err)
		if c.can(policies.PermSessionsRead) {
			s.renderSessions(w, r, c, status, msg)
		} else {
			s.pageError(w, r, c, status, http.StatusText(status), msg)
		}
		return
	}
	s.done(w, r, c, "/admin/sessions", "The session was signed out.")
}

// Invitations.

// invitationsData is the content of /admin/invitations.
type invitationsData struct {
	Invitations   []InvitationView
	Roles, Groups []string
	MailEnabled   bool
}

func (s *Service) handleInvitations(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderInvitations(w, r, c, http.StatusOK, "", map[string]string{"role": policies.RoleUser})
}

func (s *Service) renderInvitations(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	items, err := s.listInvitations()
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, "Invitations", "invitations")
	p.Error, p.Form = errMsg, form
	p.Data = invitationsData{Invitations: items, Roles: s.assignableRoles(c), Groups: s.groupNames(), MailEnabled: s.mail.Enabled()}
	s.render(w, status, "invitations", p)
}

func (s *Service) handleCreateInvitation(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	in := InvitationInput{Email: f.Get("email"), Role: f.Get("role"), Groups: splitList(f.Get("groups"))}
	v, err := s.createInvitation(r.Context(), c, r, in)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderInvitations(w, r, c, status, msg, map[string]string{"email": in.Email, "role": in.Role, "groups": f.Get("groups")})
		return
	}
	expires := fmtUntil(s.now(), v.ExpiresAt)
	note := "It was not emailed: send it to " + v.Email + " yourself. It works once, and expires " + expires + "."
	switch {
	case v.Emailed:
		note = "Gatehouse emailed it to " + v.Email + ". It works once, and expires " + expires + "."
	case s.mail.Enabled():
		note = "Sending the email to " + v.Email + " failed: send them the link yourself. It works once, and expires " + expires + "."
	}
	s.renderLink(w, r, c, "invitations", linkData{
		Heading: "Invitation created",
		Lede:    "With this link, " + v.Email + " chooses a username and password and joins as " + v.Role + ".",
		Link:    v.Link, Note: note,
		Back: "/admin/invitations", BackLabel: "Back to invitations",
	})
}

func (s *Service) handleRevokeInvitation(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeInvitation(c, r, r.PathValue("id")); err != nil {
		status, msg := s.failMsg(err)
		s.renderInvitations(w, r, c, status, msg, map[string]string{"role": policies.RoleUser})
		return
	}
	s.done(w, r, c, "/admin/invitations", "The invitation was revoked; its link no longer works.")
}

// Audit log.

// auditData is the content of /admin/audit.
type auditData struct {
	Events                     []*store.Event
	User, Action, Since, Until string
	NextURL, FirstURL          string
	Filtered                   bool
}

// handleAudit lists audit events with the filters of GET /api/v1/audit.
func (s *Service) handleAudit(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	p := s.basePage(w, r, c, "Audit log", "audit")
	d := auditData{User: q.Get("user"), Action: q.Get("action"), Since: q.Get("since"), Until: q.Get("until")}
	d.Filtered = d.User != "" || d.Action != "" || d.Since != "" || d.Until != ""
	status := http.StatusOK
	f, after, limit, err := auditQuery(q)
	if err == nil {
		var next string
		d.Events, next, err = s.listAudit(f, after, limit)
		if next != "" {
			nq := url.Values{}
			for k, v := range q {
				nq[k] = v
			}
			nq.Set("after", next)
			d.NextURL = "/admin/audit?" + nq.Encode()
		}
	}
	if err != nil {
		status, p.Error = s.failMsg(err)
	}
	if after != "" {
		fq := url.Values{}
		for k, v := range q {
			if k != "after" {
				fq[k] = v
			}
		}
		d.FirstURL = "/admin/audit"
		if len(fq) > 0 {
			d.FirstURL += "?" + fq.Encode()
		}
	}
	p.Data = d
	s.render(w, status, "audit", p)
}

// Settings.

// settingsData is the content of /admin/settings.
type settingsData struct {
	Defaults    Settings
	MailEnabled bool
}

// settingDurations are the duration fields of Settings, by JSON name;
// optional ones may be empty or 0 (off).
var settingDurations = []struct {
	key      string
	optional bool
}{
	{"session_idle", false}, {"session_lifetime", false}, {"session_remember", false},
	{"lockout_duration", false}, {"password_max_age", true},
	{"invite_lifetime", false}, {"reset_lifetime", false}, {"audit_retention", false},
	{"impersonation_lifetime", false}, {"temp_password_lifetime", false},
}

// settingsForm shows st in the settings form.
func settingsForm(st *Settings) map[string]string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return ""
	}
	n := func(v int) string {
		if v == 0 {
			return ""
		}
		return strconv.Itoa(v)
	}
	return map[string]string{
		"session_idle":           fmtDuration(st.SessionIdle),
		"session_lifetime":       fmtDuration(st.SessionLifetime),
		"session_remember":       fmtDuration(st.SessionRemember),
		"lockout_threshold":      strconv.Itoa(st.LockoutThreshold),
		"lockout_duration":       fmtDuration(st.LockoutDuration),
		"password_max_age":       fmtDuration(st.PasswordMaxAge),
		"invite_lifetime":        fmtDuration(st.InviteLifetime),
		"reset_lifetime":         fmtDuration(st.ResetLifetime),
		"audit_retention":        fmtDuration(st.AuditRetention),
		"impersonation_lifetime": fmtDuration(st.ImpersonationLifetime),
		"temp_password_lifetime": fmtDuration(st.TempPasswordLifetime),
		"lock_profile":           b(st.LockProfile),
		"require_2fa":            b(st.Require2FA),
		"min_length":             n(st.PasswordRules.MinLength),
		"max_length":             n(st.PasswordRules.MaxLength),
		"require_lower":          b(st.PasswordRules.RequireLower),
		"require_upper":          b(st.PasswordRules.RequireUpper),
		"require_digit":          b(st.PasswordRules.RequireDigit),
		"require_symbol":         b(st.PasswordRules.RequireSymbol),
		"forbid_username":        b(st.PasswordRules.ForbidUsername),
	}
}

func (s *Service) handleSettings(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderSettings(w, r, c, http.StatusOK, "", nil)
}

func (s *Service) renderSettings(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	p := s.basePage(w, r, c, "Settings", "settings")
	p.Error = errMsg
	p.Form = settingsForm(s.cfg())
	for k, v := range form {
		p.Form[k] = v
	}
	p.Data = settingsData{Defaults: s.defaultSettings(), MailEnabled: s.mail.Enabled()}
	s.render(w, status, "settings", p)
}

// settingsPatch turns the settings form into the JSON patch that
// updateSettings takes (as PATCH /api/v1/settings).
func settingsPatch(f url.Values) ([]byte, error) {
	patch := map[string]any{}
	for _, d := range settingDurations {
		v := strings.TrimSpace(f.Get(d.key))
		if v == "" && d.optional {
			v = "0"
		}
		if v == "" {
			return nil, inputErr(d.key, "is required")
		}
		dur, err := parseDuration(v)
		if err != nil {
			return nil, inputErr(d.key, "%v", err)
		}
		patch[d.key] = dur.String()
	}
	num := func(key string, emptyZero bool) (int, error) {
		v := strings.TrimSpace(f.Get(key))
		if v == "" && emptyZero {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, inputErr(key, "must be a whole number")
		}
		return n, nil
	}
	th, err := num("lockout_threshold", false)
	if err != nil {
		return nil, err
	}
	patch["lockout_threshold"] = th
	minLen, err := num("min_length", true)
	if err != nil {
		return nil, err
	}
	maxLen, err := num("max_length", true)
	if err != nil {
		return nil, err
	}
	on := func(key string) bool { return f.Get(key) != "" }
	// A map, not policies.PasswordRules, whose omitempty lengths would
	// leave a cleared field at its old value.
	patch["password_rules"] = map[string]any{"min_length": minLen, "max_length": maxLen,
		"require_lower": on("require_lower"), "require_upper": on("require_upper"), "require_digit": on("require_digit"),
		"require_symbol": on("require_symbol"), "forbid_username": on("forbid_username")}
	patch["lock_profile"] = on("lock_profile")
	patch["require_2fa"] = on("require_2fa")
	return json.Marshal(patch)
}

func (s *Service) handleSettingsForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	form := map[string]string{}
	for k := range settingsForm(s.cfg()) {
		form[k] = f.Get(k)
	}
	raw, err := settingsPatch(f)
	if err == nil {
		_, err = s.updateSettings(c, r, raw)
	}
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderSettings(w, r, c, status, msg, form)
		return
	}
	s.done(w, r, c, "/admin/settings", "Settings saved. They apply from the next request.")
}

func (s *Service) handleTestMail(w http.ResponseWriter, r *http.Request, c *caller) {
	to := strings.TrimSpace(r.PostForm.Get("to"))
	if err := s.sendTestMail(r.Context(), c, r, to); err != nil {
		status, msg := s.failMsg(err)
		s.renderSettings(w, r, c, status, msg, map[string]string{"to": to})
		return
	}
	if to == "" {
		to = c.user.Email
	}
	s.done(w, r, c, "/admin/settings", "A test email was sent to "+to+".")
}
