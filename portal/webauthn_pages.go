package portal

import (
	"errors"
	"net/http"
)

// Profile forms: renaming and removing a key work without JavaScript
// (adding one needs it: the browser's WebAuthn API is a script API).

// handleProfileKeyRename: POST /profile/webauthn/{id}/rename (name).
func (s accountUI) handleProfileKeyRename(w http.ResponseWriter, r *http.Request, c *caller) {
	k, err := s.core.Auth.RenameKey(s.requestActor(r), c.User, r.PathValue("id"), r.PostForm.Get("name"))
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		named := *ie
		named.Field = "key_name" // "the key name …", core.field.key_name on other pages
		_, msg := s.failMsg(&named)
		s.renderProfile(w, r, c, http.StatusBadRequest, msg, nil)
		return
	case err != nil:
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.webauthn.renamed", "Name", k.Name))
}

// handleProfileKeyRemove: POST /profile/webauthn/{id}/remove.
func (s accountUI) handleProfileKeyRemove(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.Auth.RemoveKey(s.requestActor(r), c.User, r.PathValue("id")); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.webauthn.the_security_key_is"))
}
