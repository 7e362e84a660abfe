package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/policies"
)

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
