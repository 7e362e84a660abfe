package portal

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/core"
)

// The caller's own account.

func (s accountUI) apiPatchMe(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var in ProfileInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		res, err := s.core.Users.UpdateProfile(r.Context(), c, in)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, s.core.Users.View(res.User), nil
	})
}

type sessionView struct {
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Remember  bool      `json:"remember"`
	// Methods says how the session signed in, e.g. ["password", "totp"].
	Methods []string `json:"methods"`
	// SecondFactor: the sign-in used a second factor or a passkey.
	SecondFactor bool `json:"second_factor"`
	// Impersonator is the username of the administrator acting as the
	// user in this session (see impersonation.go); empty otherwise.
	Impersonator string `json:"impersonator,omitempty"`
}

type meResponse struct {
	User    UserView    `json:"user"`
	Session sessionView `json:"session"`
	// Key describes the API key of a request made with one.
	Key *APIKeyView `json:"key,omitempty"`
	// SecurityEmails are the user's security e-mail preferences.
	SecurityEmails *core.MailPrefsView `json:"security_emails,omitempty"`
}

func (s accountUI) apiMe(w http.ResponseWriter, r *http.Request) {
	c, res := s.callerOf(r)
	switch res {
	case resolvedUnavailable:
		writeJSONError(w, http.StatusServiceUnavailable, "the sign-in service is unavailable")
		return
	case resolvedNone:
		writeJSONError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	sess := c.Session
	resp := meResponse{User: s.core.Users.View(c.User), Session: sessionView{CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt,
		Remember: sess.Remember, Methods: sess.Methods, SecondFactor: sess.SecondFactor, Impersonator: sess.ImpersonatorName}}
	if p, err := s.core.Users.MailPrefs(c.User); err == nil {
		resp.SecurityEmails = &p
	}
	if c.Key != nil {
		resp.Session = sessionView{CreatedAt: c.Key.CreatedAt, Methods: []string{"api_key"}}
		v := s.core.Credentials.APIKeyViewOf(*c.Key, c.User.Username)
		resp.Key = &v
	}
	writeJSON(w, http.StatusOK, resp)
}
