package core

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/gatehouse-auth/gatehouse/store"
)

// SSH public keys: a user keeps their keys on their profile and the
// directory server serves them as sshPublicKey (openssh-lpk), which SSSD's
// sss_ssh_authorizedkeys hands to sshd. A key decides who may log in to a
// Linux host, so it is a credential: only the person changes their own,
// from a portal session, never with an API key or while impersonated.

// ActionSSHKeysUpdate is the audit action of a change of SSH keys.
const ActionSSHKeysUpdate = "ssh_keys.update"

// MaxSSHKeys is how many SSH keys one user may keep.
const MaxSSHKeys = 32

// maxSSHKeyLen bounds one key line (an 8192-bit RSA key is about 1,400
// bytes).
const maxSSHKeyLen = 8192

// SSHKeyView is one SSH public key as the API shows it.
type SSHKeyView struct {
	// Key is the authorized_keys line: type, base64 key and comment.
	Key string `json:"key"`
	// Type is the key's algorithm, e.g. "ssh-ed25519".
	Type string `json:"type"`
	// Comment is the key's comment, often user@host.
	Comment string `json:"comment,omitempty"`
	// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l shows it.
	Fingerprint string `json:"fingerprint"`
}

// SSHKeysInput is the new list of a user's SSH keys.
type SSHKeysInput struct {
	// Keys are authorized_keys lines, without options.
	Keys []string `json:"keys"`
}

// ownSSHKeyChange is ownCredentialChange for SSH keys.
func ownSSHKeyChange(a *Actor) error {
	if !a.Anonymous() && a.Key == nil && a.Credential != CredKey && !a.Impersonating() && a.Credential != CredSession {
		return fmt.Errorf("%w: SSH keys are managed from a signed-in portal session", ErrForbidden)
	}
	return ownCredentialChange(a)
}

// SSHKeys returns a's own SSH public keys.
func (s *Credentials) SSHKeys(a *Actor) ([]SSHKeyView, error) {
	if a.Anonymous() {
		return nil, fmt.Errorf("%w: sign in first", ErrForbidden)
	}
	u, err := s.store.User(a.User.ID)
	if err != nil {
		return nil, fmt.Errorf("core: ssh keys: %w", err)
	}
	return sshKeyViews(u.SSHKeys), nil
}

// SetSSHKeys replaces a's SSH public keys with in.Keys (empty: none) and
// returns them as stored: each validated (a bad one is an InputError
// naming "keys[i]"), in its canonical form (type, base64, comment), no
// key twice. Refused with an API key, during an impersonation and from
// anything but a portal session; audited.
func (s *Credentials) SetSSHKeys(a *Actor, in SSHKeysInput) ([]SSHKeyView, error) {
	if err := ownSSHKeyChange(a); err != nil {
		return nil, err
	}
	keys, err := canonicalSSHKeys(in.Keys)
	if err != nil {
		return nil, err
	}
	var before int
	u, err := s.store.UpdateUser(a.User.ID, func(u *store.User) error {
		before = len(u.SSHKeys)
		u.SSHKeys = keys
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("core: set ssh keys: %w", err)
	}
	views := sshKeyViews(u.SSHKeys)
	fps := make([]string, len(views))
	for i, v := range views {
		fps[i] = v.Fingerprint
	}
	s.Audit(a, store.Event{Actor: a.User.Username, Action: ActionSSHKeysUpdate, Resource: "user:" + a.User.ID,
		Outcome: OutcomeSuccess, Reason: fmt.Sprintf("%d SSH keys (had %d): %s", len(views), before, strings.Join(fps, " "))})
	return views, nil
}

// canonicalSSHKeys checks each authorized_keys line and returns them in
// canonical form.
func canonicalSSHKeys(lines []string) ([]string, error) {
	if len(lines) > MaxSSHKeys {
		return nil, Input("keys", "at most %d keys", MaxSSHKeys)
	}
	var out []string
	seen := map[string]int{}
	for i, line := range lines {
		field := "keys[" + strconv.Itoa(i) + "]"
		line = strings.TrimSpace(line)
		if len(line) > maxSSHKeyLen {
			return nil, Input(field, "is longer than %d bytes", maxSSHKeyLen)
		}
		if strings.ContainsAny(line, "\r\n") {
			return nil, Input(field, "must be one line: one key each")
		}
		pk, comment, opts, rest, err := ssh.ParseAuthorizedKey([]byte(line))
		switch {
		case err != nil:
			return nil, Input(field, "is not an SSH public key (paste the line of your .pub file, such as id_ed25519.pub)")
		case len(opts) > 0:
			return nil, Input(field, "must not carry authorized_keys options (%s)", strings.Join(opts, ","))
		case len(rest) > 0:
			return nil, Input(field, "must be one line: one key each")
		case strings.ContainsFunc(comment, IsControl) || len(comment) > 256:
			return nil, Input(field, "has a comment with control characters or longer than 256 bytes")
		}
		if _, ok := pk.(*ssh.Certificate); ok {
			return nil, Input(field, "is a certificate: add the public key itself")
		}
		fp := ssh.FingerprintSHA256(pk)
		if j, dup := seen[fp]; dup {
			return nil, Input(field, "is the same key as keys[%d]", j)
		}
		seen[fp] = i
		k := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
		if comment = strings.TrimSpace(comment); comment != "" {
			k += " " + comment
		}
		out = append(out, k)
	}
	return out, nil
}

// sshKeyViews describes stored keys; one that no longer parses is shown
// with its line only.
func sshKeyViews(keys []string) []SSHKeyView {
	out := make([]SSHKeyView, 0, len(keys))
	for _, k := range keys {
		v := SSHKeyView{Key: k}
		if pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
			v.Type, v.Comment, v.Fingerprint = pk.Type(), comment, ssh.FingerprintSHA256(pk)
		}
		out = append(out, v)
	}
	return out
}
