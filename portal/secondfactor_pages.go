package portal

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// secondStepData fills login_2fa.html.
type secondStepData struct {
	Username string
	Methods  []string
	RD       string
}

// totpSetupData fills totp_setup.html, for the profile and for the
// enrollment a mandatory-2FA sign-in needs.
type totpSetupData struct {
	TOTPEnrollment
	// QRImage is the QR code's data: URL, marked safe for the img src
	// (we made it: a base64 PNG).
	QRImage  template.URL
	Action   string
	RD       string
	Required bool
}

// backupCodesData fills backup_codes.html.
type backupCodesData struct {
	Codes []string
	Next  string
}

// cleanRD keeps rd only when it is an allowed return target.
func (s secondStepUI) cleanRD(rd string) string {
	if _, ok := s.core.Access.RedirectPolicy().Clean(rd); !ok {
		return ""
	}
	return rd
}

// handleSecondStepPage shows the second step of a pending login, or the
// step-up of a one-factor session sent here by an app that requires 2FA.
func (s secondStepUI) handleSecondStepPage(w http.ResponseWriter, r *http.Request) {
	rd := s.cleanRD(r.URL.Query().Get("rd"))
	p, err := s.pendingOf(r)
	if err != nil {
		if p, err = s.stepUpPending(w, r); err != nil {
			if c, res := s.callerOf(r); res == resolvedOK && !c.Session.SecondFactor {
				s.pageError(w, r, c, http.StatusForbidden, "Two-factor authentication needed",
					s.pages.lang(r.Header, nil).S("msg.secondfactor.this_app_requires_a"))
				return
			}
			http.Redirect(w, r, "/login?rd="+url.QueryEscape(rd), http.StatusSeeOther)
			return
		}
	}
	if p.Enroll {
		http.Redirect(w, r, "/login/enroll?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return
	}
	s.renderSecondStep(w, r, http.StatusOK, p, rd, "")
}

func (s secondStepUI) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, p *pending, rd, errMsg string) {
	m, err := s.store.MFA(p.User.ID)
	if err != nil {
		s.renderError(w, nil, http.StatusInternalServerError, s.pages.lang(r.Header, nil).S("msg.secondfactor.something_went_wrong"), s.pages.lang(r.Header, nil).S("msg.secondfactor.try_again"), nil)
		return
	}
	s.render(w, r, status, "login_2fa", page{Title: s.pages.lang(r.Header, nil).S("login_2fa.two_step_sign_in"), Error: errMsg,
		Data: secondStepData{Username: p.User.Username, Methods: core.MethodsOf(m), RD: rd}})
}

// handleSecondStepForm checks a TOTP or backup code.
func (s secondStepUI) handleSecondStepForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	rd := s.cleanRD(r.PostForm.Get("rd"))
	p, err := s.pendingOf(r)
	if err != nil {
		s.signInAgain(w, r, rd)
		return
	}
	method := r.PostForm.Get("method")
	if _, err := s.secondStep(w, r, p, method, r.PostForm.Get("code")); err != nil {
		status, msg := http.StatusUnauthorized, s.pages.lang(r.Header, nil).S("msg.secondfactor.that_code_is_not")
		var ie *InputError
		switch {
		case errors.As(err, &ie):
			status, msg = s.failMsg(ie)
		case errors.Is(err, core.ErrNoPending):
			s.signInAgain(w, r, rd)
			return
		case !errors.Is(err, core.ErrBadCode):
			s.log.Error("second step", "error", err)
			status, msg = http.StatusInternalServerError, s.pages.lang(r.Header, nil).S("js.went_wrong")
		}
		s.renderSecondStep(w, r, status, p, rd, msg)
		return
	}
	s.redirectAfterForm(w, r, s.signInUI().cleanReturn(rd))
}

// signInAgain answers a second step (or enrollment) whose sign-in is gone
// (expired after 5 minutes, spent, or void because the password changed)
// with the sign-in form and why, instead of a silent redirect.
func (s secondStepUI) signInAgain(w http.ResponseWriter, r *http.Request, rd string) {
	s.render(w, r, http.StatusUnauthorized, "login", page{Title: s.pages.lang(r.Header, nil).S("login.title"),
		Error: s.pages.lang(r.Header, nil).S("msg.secondfactor.this_sign_in_has"),
		Form:  map[string]string{"rd": rd}})
}

// handleEnrollPage shows the authenticator setup a mandatory-2FA sign-in
// needs before it may finish.
func (s secondStepUI) handleEnrollPage(w http.ResponseWriter, r *http.Request) {
	rd := s.cleanRD(r.URL.Query().Get("rd"))
	p, err := s.pendingOf(r)
	if err != nil || !p.Enroll {
		http.Redirect(w, r, "/login?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return
	}
	s.renderEnroll(w, r, http.StatusOK, p.User, rd, "")
}

func (s secondStepUI) renderEnroll(w http.ResponseWriter, r *http.Request, status int, u *store.User, rd, errMsg string) {
	e, err := s.core.Auth.BeginTOTP(u)
	if err != nil {
		s.log.Error("begin totp", "error", err)
		s.renderError(w, nil, http.StatusInternalServerError, s.pages.lang(r.Header, nil).S("msg.secondfactor.something_went_wrong"), s.pages.lang(r.Header, nil).S("msg.secondfactor.try_again"), nil)
		return
	}
	s.render(w, r, status, "totp_setup", page{Title: s.pages.lang(r.Header, nil).S("msg.secondfactor.set_up_two_factor"), Error: errMsg,
		Data: totpSetupData{TOTPEnrollment: e, QRImage: template.URL(e.QR), Action: "/login/enroll", RD: rd, Required: true}})
}

// handleEnrollForm confirms the authenticator and finishes the sign-in,
// showing the backup codes once.
func (s secondStepUI) handleEnrollForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderFormError(w, r, err)
		return
	}
	rd := s.cleanRD(r.PostForm.Get("rd"))
	p, err := s.pendingOf(r)
	if err != nil || !p.Enroll {
		s.signInAgain(w, r, rd)
		return
	}
	codes, err := s.core.Auth.ConfirmTOTP(s.requestActor(r), p.User, r.PostForm.Get("code"))
	if err != nil {
		status, _ := s.statusOf(err)
		s.renderEnroll(w, r, status, p.User, rd, totpConfirmMessage(err))
		return
	}
	if _, err := s.finishLogin(w, r, p, core.MethodTOTP); err != nil {
		if !errors.Is(err, core.ErrNoPending) {
			s.log.Error("finish sign-in after enrollment", "error", err)
		}
		s.signInAgain(w, r, rd)
		return
	}
	s.render(w, r, http.StatusOK, "backup_codes", page{Title: s.pages.lang(r.Header, nil).S("msg.secondfactor.your_backup_codes"),
		Data: backupCodesData{Codes: codes, Next: s.signInUI().cleanReturn(rd)}})
}

// Profile: the caller's own authenticator app and backup codes.

// totpConfirmMessage says what to do after a refused confirmation code:
// try again with the same entry, or scan the new code once too many
// wrong codes cancelled the setup.
func totpConfirmMessage(err error) string {
	if errors.Is(err, core.ErrTOTPTries) {
		return "That code did not match, " + strconv.Itoa(core.TotpPendingTries) + " times in a row, so the setup started again. Delete the old entry from your app, scan the new code below and type the code it shows."
	}
	return "That code did not match. The code below is unchanged: check the time on your phone and type the current code from the same entry."
}

func (s secondStepUI) handleProfileTOTPBegin(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderProfileTOTP(w, r, c, http.StatusOK, "")
}

func (s secondStepUI) renderProfileTOTP(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string) {
	e, err := s.core.Auth.BeginTOTP(c.User)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "profile.set_up_an_authenticator"), "profile")
	p.Error = errMsg
	p.Data = totpSetupData{TOTPEnrollment: e, QRImage: template.URL(e.QR), Action: "/profile/totp/confirm"}
	s.render(w, r, status, "totp_setup", p)
}

func (s secondStepUI) handleProfileTOTPConfirm(w http.ResponseWriter, r *http.Request, c *caller) {
	codes, err := s.core.Auth.ConfirmTOTP(s.requestActor(r), c.User, r.PostForm.Get("code"))
	if err != nil {
		status, _ := s.statusOf(err)
		s.renderProfileTOTP(w, r, c, status, totpConfirmMessage(err))
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "msg.secondfactor.your_backup_codes"), "profile")
	p.Flash = "Two-factor authentication is on."
	p.Data = backupCodesData{Codes: codes, Next: "/profile"}
	s.render(w, r, http.StatusOK, "backup_codes", p)
}

func (s secondStepUI) handleProfileTOTPRemove(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Auth.RemoveTOTP(s.requestActor(r), c.User.Username, c.User); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.secondfactor.the_authenticator_app_is"))
}

func (s secondStepUI) handleProfileBackupCodes(w http.ResponseWriter, r *http.Request, c *caller) {
	codes, err := s.core.Auth.RegenerateBackupCodes(s.requestActor(r), c.User)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	p := s.basePage(w, r, c, s.pages.tr(c, "msg.secondfactor.your_new_backup_codes"), "profile")
	p.Flash = s.pages.tr(c, "msg.secondfactor.new_backup_codes_made")
	p.Data = backupCodesData{Codes: codes, Next: "/profile"}
	s.render(w, r, http.StatusOK, "backup_codes", p)
}

// handleUserResetFactors removes a user's second factors (admin page).
func (s secondStepUI) handleUserResetFactors(w http.ResponseWriter, r *http.Request, c *caller) {
	ref := r.PathValue("user")
	if err := s.core.Auth.ResetFactors(c, ref); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, userURL(ref), s.pages.tr(c, "msg.secondfactor.second_factors_removed_the"))
}
