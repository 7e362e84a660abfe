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
		s.done(w, r, c, "/admin/users", s.pages.tr(c, "msg.directory.sync_failed", "Reason", msg))
		return
	}
	msg := s.pages.tr(c, "msg.directory.synced", "Summary", rep.Summary())
	if n := len(rep.Errors); n > 0 {
		shown := rep.Errors
		if n > 3 {
			shown = shown[:3]
		}
		msg += " " + sentence(strings.Join(shown, "; "))
		if n > 3 {
			msg += " " + s.pages.tr(c, "msg.directory.and_more")
		}
	}
	s.done(w, r, c, "/admin/users", msg)
}
