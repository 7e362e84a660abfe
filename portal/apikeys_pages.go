package portal

import (
	"net/http"
	"strings"
)

// handleProfileKeyCreate makes an API key from the profile form and shows
// it once.
func (s accessUI) handleProfileKeyCreate(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	in := KeyInput{Label: f.Get("label"), ExpiresAt: f.Get("expires_at"), IPAllow: splitList(f.Get("ip_allow"))}
	switch sc := f.Get("scope"); {
	case strings.HasPrefix(sc, "app:"):
		in.Scope = []any{strings.TrimPrefix(sc, "app:")}
	case sc != "":
		in.Scope = sc
	}
	v, err := s.core.Credentials.CreateKey(c, in)
	if err != nil {
		status, msg := s.statusOf(err)
		s.accountUI().renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.usersUI().renderLink(w, r, c, "profile", linkData{Heading: s.pages.tr(c, "msg.apikeys.api_key", "Label", v.Label), Label: s.pages.tr(c, "msg.apikeys.api_key_2"), Link: v.Key,
		Lede: s.pages.tr(c, "msg.apikeys.copy_it_now_into"), Note: s.pages.tr(c, "msg.apikeys.send_it_as_authorization"),
		Back: "/profile", BackLabel: s.pages.tr(c, "msg.apikeys.back_to_your_profile")})
}

func (s accessUI) handleProfileKeyRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Credentials.RevokeKey(c, r.PathValue("id")); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.apikeys.the_api_key_is"))
}
