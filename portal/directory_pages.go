package portal

import (
	"net/http"
	"strings"
)

// handleDirectorySync is the users page's "Synchronize" button.
func (s usersUI) handleDirectorySync(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx, cancel := syncContext(r)
	defer cancel()
	rep, err := s.core.Directory.Sync(ctx, c)
	if err != nil {
		_, msg := s.failMsg(err)
		s.done(w, r, c, "/admin/users", "Synchronization failed: "+msg)
		return
	}
	msg := "Synchronized with the directory: " + rep.Summary() + "."
	if n := len(rep.Errors); n > 0 {
		shown := rep.Errors
		if n > 3 {
			shown = shown[:3]
		}
		msg += " " + sentence(strings.Join(shown, "; "))
		if n > 3 {
			msg += " (and more: see the audit log and the API's report)"
		}
	}
	s.done(w, r, c, "/admin/users", msg)
}
