package portal

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// apiListCredentials answers GET /api/v1/reset-links and
// /api/v1/temp-passwords (owners only), optionally ?user=name.
func (s adminAPI) apiListCredentials(w http.ResponseWriter, r *http.Request) {
	kind := core.CredentialKinds[strings.TrimPrefix(r.URL.Path, "/api/v1/")]
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		var u *store.User
		if ref := r.URL.Query().Get("user"); ref != "" {
			var err error
			if u, err = s.core.Users.FindUser(ref); err != nil {
				return 0, nil, err
			}
		}
		list, err := s.core.Credentials.ListCredentials(c, kind, u)
		return http.StatusOK, map[string]any{"items": list}, err
	})
}

// apiRevokeCredential answers DELETE /api/v1/reset-links/{id} and
// /api/v1/temp-passwords/{id} (owners only).
func (s adminAPI) apiRevokeCredential(w http.ResponseWriter, r *http.Request) {
	coll, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/")
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.Credentials.RevokeCredential(c, core.CredentialKinds[coll], r.PathValue("id"))
	})
}

// handleUserRevokeCredential revokes one of the user's reset links or
// temporary passwords from the user's page.
func (s adminAPI) handleUserRevokeCredential(w http.ResponseWriter, r *http.Request, c *caller) {
	kind, ok := core.CredentialKinds[r.PathValue("kind")]
	if !ok {
		s.pageFail(w, r, c, core.NotFoundf("credential"))
		return
	}
	if err := s.core.Credentials.RevokeCredential(c, kind, r.PathValue("id")); err != nil {
		s.usersUI().userFail(w, r, c, err, nil)
		return
	}
	s.usersUI().userDone(w, r, c, "The "+core.CredentialLabel(kind)+" was revoked.")
}
