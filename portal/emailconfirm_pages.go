package portal

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// emailRoutes adds the confirmation link's page and the profile's
// resend and cancel buttons.
func (s accountUI) emailRoutes(mux *routeMux) {
	mux.HandleFunc("GET /email/confirm/{token}", s.handleEmailConfirmPage)
	mux.HandleFunc("POST /email/confirm/{token}", s.throttled(s.handleEmailConfirmForm))
	// Resending mails the address already proven fresh when the change
	// was asked for; cancelling keeps the verified address.
	mux.Handle("POST /profile/email/resend", s.notCredential(s.signedIn("", s.handleEmailResend)))
	mux.Handle("POST /profile/email/cancel", s.notCredential(s.signedIn("", s.handleEmailCancel)))
}

// emailConfirmData is the content of /email/confirm/{token}.
type emailConfirmData struct {
	Token, Username, Email, Current string
	Done                            bool
}

// handleEmailConfirmPage shows the link's address and a button: a GET
// (a mail scanner following the link) changes nothing.
func (s accountUI) handleEmailConfirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, u, err := s.core.Users.EmailLink(tok)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"),
			s.pages.lang(r.Header, nil).S("msg.emailconfirm.this_link_is_invalid"), nil)
		return
	}
	s.render(w, r, http.StatusOK, "email_confirm", page{Title: s.pages.lang(r.Header, nil).S("msg.emailconfirm.confirm_your_email_address"),
		Data: emailConfirmData{Token: tok, Username: u.Username, Email: t.Data["email"], Current: u.Email}})
}

func (s accountUI) handleEmailConfirmForm(w http.ResponseWriter, r *http.Request) {
	u, err := s.core.Users.ConfirmEmail(s.requestActor(r), r.PathValue("token"))
	switch {
	case errors.Is(err, core.ErrLink):
		s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.emailconfirm.link_not_valid"),
			s.pages.lang(r.Header, nil).S("msg.emailconfirm.this_link_is_invalid"), nil)
		return
	case errors.Is(err, ErrConflict):
		s.renderError(w, r, http.StatusConflict, s.pages.lang(r.Header, nil).S("msg.emailconfirm.address_already_in_use"), sentence(err.Error()), nil)
		return
	case err != nil:
		status, msg := s.statusOf(err)
		s.renderError(w, r, status, s.pages.lang(r.Header, nil).S("msg.emailconfirm.could_not_confirm"), sentence(msg), nil)
		return
	}
	s.render(w, r, http.StatusOK, "email_confirm", page{Title: s.pages.lang(r.Header, nil).S("email_confirm.email_address_confirmed"),
		Data: emailConfirmData{Username: u.Username, Email: u.Email, Done: true}})
}

func (s accountUI) handleEmailResend(w http.ResponseWriter, r *http.Request, c *caller) {
	if c.Impersonating() {
		s.pageError(w, r, c, http.StatusForbidden, s.pages.tr(c, "msg.emailconfirm.not_while_impersonating"), s.pages.tr(c, "msg.emailconfirm.stop_impersonating_first"))
		return
	}
	u, err := s.store.User(c.User.ID)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	sent, err := s.core.Users.SendEmailConfirmation(r.Context(), u)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", s.pages.emailSentMessage(c, u, sent))
}

func (s accountUI) handleEmailCancel(w http.ResponseWriter, r *http.Request, c *caller) {
	if c.Impersonating() {
		s.pageError(w, r, c, http.StatusForbidden, s.pages.tr(c, "msg.emailconfirm.not_while_impersonating"), s.pages.tr(c, "msg.emailconfirm.stop_impersonating_first"))
		return
	}
	u, err := s.store.User(c.User.ID)
	if err == nil {
		_, err = s.core.Users.CancelEmailChange(u)
	}
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.emailconfirm.the_change_of_your"))
}

// emailSentMessage tells u, in c's language, where the confirmation link
// went.
func (ps *pageSets) emailSentMessage(c *caller, u *store.User, sent bool) string {
	if !sent {
		return ps.tr(c, "msg.emailconfirm.not_sent", "Email", u.PendingEmail)
	}
	if u.Email != "" {
		return ps.tr(c, "msg.emailconfirm.sent_keeps", "Email", u.PendingEmail, "Current", u.Email)
	}
	return ps.tr(c, "msg.emailconfirm.sent_none", "Email", u.PendingEmail)
}
