package portal

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/store"
)

func (s *Service) apiCreateKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		var in KeyInput
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		v, err := s.createKey(c, r, in)
		return http.StatusCreated, v, err
	})
}

func (s *Service) apiListKeys(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		items, err := s.listKeys(c, r.URL.Query().Get("all") == "1")
		return http.StatusOK, list[APIKeyView]{Items: items}, err
	})
}

func (s *Service) apiRevokeKey(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, "", func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.revokeKey(c, r, r.PathValue("id"))
	})
}

// revokeAllKeys ends every API key of u (when u is disabled or deleted).
func (s *Service) revokeAllKeys(r *http.Request, actor string, u *store.User) {
	n, err := s.store.DeleteUserAPIKeys(u.ID)
	if err != nil {
		s.log.Error("revoke api keys", "user", u.Username, "error", err)
		return
	}
	if n > 0 {
		s.audit(r, store.Event{Actor: actor, Action: actionKeyRevoke, Resource: "user:" + u.Username, Outcome: outcomeSuccess,
			Reason: "all keys of a disabled or deleted user"})
	}
}

// handleProfileKeyCreate makes an API key from the profile form and shows
// it once.
func (s *Service) handleProfileKeyCreate(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	in := KeyInput{Label: f.Get("label"), ExpiresAt: f.Get("expires_at"), IPAllow: splitList(f.Get("ip_allow"))}
	switch sc := f.Get("scope"); {
	case strings.HasPrefix(sc, "app:"):
		in.Scope = []any{strings.TrimPrefix(sc, "app:")}
	case sc != "":
		in.Scope = sc
	}
	v, err := s.createKey(c, r, in)
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.renderLink(w, r, c, "profile", linkData{Heading: "API key " + v.Label, Label: "API key", Link: v.Key,
		Lede: "Copy it now into your script or app.", Note: "Send it as Authorization: Bearer <key>.",
		Back: "/profile", BackLabel: "Back to your profile"})
}

func (s *Service) handleProfileKeyRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.revokeKey(c, r, r.PathValue("id")); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", "The API key is revoked.")
}
