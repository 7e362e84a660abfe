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
	s.usersUI().renderLink(w, r, c, "profile", linkData{Heading: "API key " + v.Label, Label: "API key", Link: v.Key,
		Lede: "Copy it now into your script or app.", Note: "Send it as Authorization: Bearer <key>.",
		Back: "/profile", BackLabel: "Back to your profile"})
}

func (s accessUI) handleProfileKeyRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Credentials.RevokeKey(c, r.PathValue("id")); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", "The API key is revoked.")
}
