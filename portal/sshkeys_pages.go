package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/core"
)

// sshKeyLines returns the caller's stored key lines.
func (s accountUI) sshKeyLines(c *caller) ([]string, error) {
	views, err := s.core.Credentials.SSHKeys(c)
	lines := make([]string, len(views))
	for i, v := range views {
		lines[i] = v.Key
	}
	return lines, err
}

// handleProfileSSHKeyAdd adds the SSH key of the profile form.
func (s accountUI) handleProfileSSHKeyAdd(w http.ResponseWriter, r *http.Request, c *caller) {
	lines, err := s.sshKeyLines(c)
	if err == nil {
		_, err = s.core.Credentials.SetSSHKeys(c, core.SSHKeysInput{Keys: append(lines, r.PostForm.Get("key"))})
	}
	if err != nil {
		status, msg := s.statusOf(err)
		s.renderProfile(w, r, c, status, sentence(msg), nil)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.sshkeys.the_ssh_key_is"))
}

// handleProfileSSHKeyRemove removes the caller's SSH key with the form's
// fingerprint.
func (s accountUI) handleProfileSSHKeyRemove(w http.ResponseWriter, r *http.Request, c *caller) {
	views, err := s.core.Credentials.SSHKeys(c)
	if err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	var keep []string
	found := false
	for _, v := range views {
		if v.Fingerprint != "" && v.Fingerprint == r.PostForm.Get("fingerprint") {
			found = true
			continue
		}
		keep = append(keep, v.Key)
	}
	if !found {
		s.pageFail(w, r, c, core.ErrNotFound)
		return
	}
	if _, err := s.core.Credentials.SetSSHKeys(c, core.SSHKeysInput{Keys: keep}); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/profile", s.pages.tr(c, "msg.sshkeys.the_ssh_key_is_2"))
}
