package portal

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// invitationsData is the content of /admin/invitations.
type invitationsData struct {
	Invitations   []InvitationView
	Roles, Groups []string
	MailEnabled   bool
}

func (s usersUI) handleInvitations(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderInvitations(w, r, c, http.StatusOK, "", map[string]string{"role": policies.RoleUser})
}

func (s usersUI) renderInvitations(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	items, err := s.core.Credentials.ListInvitations()
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.invitations"), "invitations")
	p.Error, p.Form = errMsg, form
	p.Data = invitationsData{Invitations: items, Roles: s.assignableRoles(c), Groups: s.groupNames(), MailEnabled: s.mail.Enabled()}
	s.render(w, r, status, "invitations", p)
}

func (s usersUI) handleCreateInvitation(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	in := InvitationInput{Email: f.Get("email"), Role: f.Get("role"), Groups: splitList(f.Get("groups"))}
	v, err := s.core.Credentials.CreateInvitation(r.Context(), c, in)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderInvitations(w, r, c, status, msg, map[string]string{"email": in.Email, "role": in.Role, "groups": f.Get("groups")})
		return
	}
	expires := s.pages.until(c, s.now(), v.ExpiresAt)
	note := s.pages.tr(c, "msg.invitations.not_emailed", "Email", v.Email, "Expires", expires)
	switch {
	case v.Emailed:
		note = s.pages.tr(c, "msg.invitations.emailed", "Email", v.Email, "Expires", expires)
	case s.mail.Enabled():
		note = s.pages.tr(c, "msg.invitations.email_failed", "Email", v.Email, "Expires", expires)
	}
	s.renderLink(w, r, c, "invitations", linkData{
		Heading: s.pages.tr(c, "msg.invitations.invitation_created"),
		Lede:    s.pages.tr(c, "msg.invitations.with_this_link", "Email", v.Email, "Role", v.Role),
		Link:    v.Link, Note: note,
		Back: "/admin/invitations", BackLabel: s.pages.tr(c, "msg.invitations.back_to_invitations"),
	})
}

func (s usersUI) handleRevokeInvitation(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Credentials.RevokeInvitation(c, r.PathValue("id")); err != nil {
		status, msg := s.failMsg(err)
		s.renderInvitations(w, r, c, status, msg, map[string]string{"role": policies.RoleUser})
		return
	}
	s.done(w, r, c, "/admin/invitations", s.pages.tr(c, "msg.invitations.the_invitation_was_revoked"))
}

// inviteData is the content of /invite/{token}.
type inviteData struct {
	Token, Email, Role, InvitedBy string
	Groups                        []string
	ExpiresAt                     time.Time
}

func (s usersUI) handleInvitePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, err := s.core.Credentials.Invitation(s.requestActor(r), tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.invitations.invitation_not_valid"),
			s.pages.lang(r.Header, nil).S("msg.invitations.this_invitation_is_invalid"), nil)
		return
	}
	s.renderInvite(w, r, http.StatusOK, "", tok, t, map[string]string{})
}

func (s usersUI) renderInvite(w http.ResponseWriter, r *http.Request, status int, errMsg, tok string, t *store.Token, form map[string]string) {
	v := core.InvitationViewOf(t)
	s.render(w, r, status, "invite", page{Title: s.pages.lang(r.Header, nil).S("msg.invitations.accept_your_invitation"), Error: errMsg, Form: form,
		PasswordRules: s.core.PasswordRules().Describe(),
		Data:          inviteData{Token: tok, Email: v.Email, Role: v.Role, InvitedBy: v.InvitedBy, Groups: v.Groups, ExpiresAt: v.ExpiresAt}})
}

// handleInviteForm creates the invitee's account, signs them in and sends
// them to the portal home.
func (s usersUI) handleInviteForm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	bad := func() {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.invitations.invitation_not_valid"),
			s.pages.lang(r.Header, nil).S("msg.invitations.this_invitation_is_invalid"), nil)
	}
	t, err := s.core.Credentials.Invitation(s.requestActor(r), tok)
	if err != nil {
		bad()
		return
	}
	attemptSucceeded(r.Context())
	f := r.PostForm
	nu := NewUser{Username: f.Get("username"), FullName: f.Get("full_name"), Password: f.Get("password")}
	form := map[string]string{"username": nu.Username, "full_name": nu.FullName}
	if nu.Password != f.Get("password2") {
		s.renderInvite(w, r, http.StatusBadRequest, s.pages.lang(r.Header, nil).S("msg.invitations.the_two_passwords_do"), tok, t, form)
		return
	}
	u, err := s.core.Credentials.AcceptInvitation(r.Context(), s.requestActor(r), tok, nu)
	if err != nil {
		if errors.Is(err, core.ErrLink) {
			bad()
			return
		}
		status, msg := s.statusOf(err)
		s.renderInvite(w, r, status, sentence(msg), tok, t, form)
		return
	}
	if _, err := s.startSession(w, r, u, false); err != nil {
		s.log.Error("invitation: start session", "error", err)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
