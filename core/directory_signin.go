package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/core/directory"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// DirectoryOptions configures the external directory.
type DirectoryOptions struct {
	// Client talks to the directory. Required.
	Client *directory.Client
	// AutoCreate makes the account of a directory person at their first
	// sign-in (role user). Without it, only a synchronisation makes them.
	AutoCreate bool
	// SyncGroups takes the directory's groups: a person's memberships of
	// them follow the directory at each sign-in and synchronisation.
	SyncGroups bool
	// SyncInterval runs a synchronisation this often; 0: only when asked.
	SyncInterval time.Duration
}

// ErrDirectoryUnavailable answers a directory user's sign-in (or a
// synchronisation) while the external directory cannot be reached: their
// password cannot be checked, and saying "wrong password" would be a lie.
// Local accounts sign in as usual meanwhile.
var ErrDirectoryUnavailable = errors.New("the directory that checks this account's password is unavailable; try again in a few minutes or ask an administrator")

// directoryActor is the audit log's name for what the directory does by
// itself: accounts made at a first sign-in, and scheduled
// synchronisations.
const directoryActor = "directory"

// Audit actions of the external directory.
const (
	ActionDirectorySync = "directory.sync"
)

// Enabled reports whether an external directory is configured.
func (d *Directory) Enabled() bool { return d.dir != nil }

// Manages reports whether u's password and profile come from the external
// directory. An account made by the directory becomes an ordinary
// password-less local account when the directory is taken out of the
// configuration (a reset link then gives it a password).
func (d *Directory) Manages(u *store.User) bool {
	return d.dir != nil && u != nil && u.Source == store.SourceLDAP
}

// passwordManaged refuses to set, reset or make a password for u.
func passwordManaged(u *store.User) error {
	return conflictMsg("%s's password is managed by the external directory: change it there", u.Username)
}

// checkPassword checks pw as u's current password: by a bind against the
// directory for a directory user, else against the stored hash. ok is
// false for a wrong password or an account without one.
func (s *Auth) checkPassword(ctx context.Context, u *store.User, pw string) (ok bool, err error) {
	if s.Directory.Manages(u) {
		_, err := s.dir.Client.Authenticate(ctx, u.Username, pw, false)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, directory.ErrUnavailable):
			s.log.Warn("external directory unavailable", "user", u.Username, "error", err)
			return false, ErrDirectoryUnavailable
		}
		return false, nil
	}
	if pw == "" || u.PasswordHash == "" {
		return false, nil
	}
	ok, err = s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil {
		return false, s.BusyOr(err)
	}
	return ok, nil
}

// authenticate is Authenticate for u, a directory user found by login and
// not locked: the directory checks the password, then the account's
// profile and groups are refreshed from the entry. fail records the
// failure as Authenticate does.
func (d *Directory) authenticate(ctx context.Context, a *Actor, u *store.User, device, pw string,
	fail func(string) (*store.User, string, string, error)) (*store.User, string, string, error) {
	e, err := d.dir.Client.Authenticate(ctx, u.Username, pw, d.dir.SyncGroups)
	now := d.now()
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		d.log.Warn("external directory unavailable", "user", u.Username, "error", err)
		fail("directory unavailable")
		return nil, "", "", ErrDirectoryUnavailable
	case errors.Is(err, directory.ErrNoSuchUser):
		if err := d.Auth.RecordFailureFor(a, u, device, now); err != nil {
			return nil, "", "", err
		}
		return fail("not in the directory")
	case err != nil:
		if err := d.Auth.RecordFailureFor(a, u, device, now); err != nil {
			return nil, "", "", err
		}
		return fail("wrong password (directory)")
	case policies.NormalizeUsername(e.Username) != u.Username:
		return fail("the directory entry has another username")
	case u.Disabled:
		return fail("account disabled")
	case !UserActive(u, now):
		return fail("account expired")
	}
	updated, err := d.refresh(a, directoryActor, u, e, true)
	if err != nil {
		return nil, "", "", err
	}
	return updated, "", device, nil
}

// authenticateNew is Authenticate for a login no local account answers to:
// the directory checks it and, with AutoCreate, the account is made.
func (d *Directory) authenticateNew(ctx context.Context, a *Actor, login, pw string,
	fail func(string) (*store.User, string, string, error)) (*store.User, string, string, error) {
	if login == "" || pw == "" {
		if _, err := d.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", d.Auth.BusyOr(err)
		}
		return fail("unknown user")
	}
	e, err := d.dir.Client.Authenticate(ctx, login, pw, d.dir.SyncGroups)
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		d.log.Warn("external directory unavailable", "login", login, "error", err)
		fail("directory unavailable")
		return nil, "", "", ErrDirectoryUnavailable
	case errors.Is(err, directory.ErrNoSuchUser):
		// Cost what a wrong local password costs.
		if _, err := d.hasher.VerifyUnknown(ctx, pw); err != nil {
			return nil, "", "", d.Auth.BusyOr(err)
		}
		return fail("unknown user")
	case err != nil:
		return fail("wrong password (directory, no account yet)")
	}
	name := policies.NormalizeUsername(e.Username)
	if u, err := d.store.UserByUsername(name); err == nil {
		// Found by an address or spelling the account does not have.
		if !d.Manages(u) {
			d.log.Warn("a directory person has the username of a local account: not signed in", "username", name, "dn", e.DN)
			return fail("a local account has the directory's username")
		}
		if locked, err := d.Auth.LockedFor(u, ""); err != nil {
			return nil, "", "", err
		} else if locked {
			return fail("account locked")
		}
		if u.Disabled || !UserActive(u, d.now()) {
			return fail("account disabled or expired")
		}
		updated, err := d.refresh(a, directoryActor, u, e, true)
		if err != nil {
			return nil, "", "", err
		}
		return updated, "", "", nil
	}
	if !d.dir.AutoCreate {
		return fail("no account yet (auto_create is off: a synchronisation makes it)")
	}
	u, err := d.create(ctx, a, directoryActor, e, nil)
	if err != nil {
		d.log.Warn("create the account of a directory person", "username", name, "error", err)
		return fail("cannot create the account: " + err.Error())
	}
	updated, err := d.store.UpdateUser(u.ID, func(x *store.User) error { x.LastLoginAt = d.now(); return nil })
	if err != nil {
		return nil, "", "", fmt.Errorf("core: record login: %w", err)
	}
	return updated, "", "", nil
}

// groupName maps a directory group's name to a group name of ours:
// lower-cased, with runs of spaces as one "-" ("Ops Team" is ops-team).
func groupName(ext string) (string, error) {
	name := policies.NormalizeUsername(strings.Join(strings.Fields(ext), "-"))
	if err := policies.ValidateGroupName(name); err != nil {
		return "", fmt.Errorf("directory group %q: %w", ext, err)
	}
	return name, nil
}

// groupNames maps ext with groupName; names that do not map are reported
// through bad and left out.
func groupNames(ext []string, bad func(error)) []string {
	var out []string
	for _, g := range ext {
		name, err := groupName(g)
		if err != nil {
			if bad != nil {
				bad(err)
			}
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// profileOf returns e's e-mail address and full name as an account holds
// them; a value that does not pass our checks is "" (and left as it is).
func profileOf(e directory.Entry) (email, fullName string) {
	email, err := CheckEmail("email", e.Email)
	if err != nil {
		email = ""
	}
	fullName, err = CheckFullName(e.FullName)
	if err != nil {
		fullName = ""
	}
	return email, fullName
}

// applyEntry makes x what e says: its DN, e-mail address and full name
// (when the directory has valid ones) and, with SyncGroups, its
// memberships of directory groups: those the directory gave before and no
// longer gives are taken away, local memberships stay. withEmail false
// leaves the address alone (it clashed with another account's).
func (d *Directory) applyEntry(x *store.User, e directory.Entry, withEmail bool) {
	email, fullName := profileOf(e)
	x.ExternalID = e.DN
	if email != "" && withEmail && !strings.EqualFold(email, x.Email) {
		x.Email, x.PendingEmail = email, ""
	}
	if fullName != "" {
		x.FullName = fullName
	}
	if d.dir.SyncGroups {
		ext := groupNames(e.Groups, nil)
		var keep []string
		for _, g := range x.Groups {
			if !slices.Contains(x.ExternalGroups, g) {
				keep = append(keep, g)
			}
		}
		x.Groups = append(keep, ext...)
		x.ExternalGroups = ext
	}
}

// refresh applies e to u (applyEntry), creating the groups it names, and
// with login records a sign-in. The changes are audited with actor as
// their author; an e-mail address another account holds is left out.
func (d *Directory) refresh(a *Actor, actor string, u *store.User, e directory.Entry, login bool) (*store.User, error) {
	if d.dir.SyncGroups {
		if err := d.store.EnsureGroups(groupNames(e.Groups, nil)); err != nil {
			return nil, fmt.Errorf("core: create directory groups: %w", err)
		}
	}
	update := func(withEmail bool) (*store.User, error) {
		return d.store.UpdateUser(u.ID, func(x *store.User) error {
			d.applyEntry(x, e, withEmail)
			if login {
				x.LastLoginAt = d.now()
			}
			return nil
		})
	}
	updated, err := update(true)
	if errors.Is(err, store.ErrConflict) {
		d.log.Warn("a directory person's e-mail address belongs to another account: not taken", "user", u.Username)
		updated, err = update(false)
	}
	if err != nil {
		return nil, fmt.Errorf("core: refresh %s from the directory: %w", u.Username, err)
	}
	d.Users.auditUserChanges(&Actor{User: &store.User{Username: actor}, IP: ipOf(a)}, u, updated)
	return updated, nil
}

// ipOf is a's client address ("" for nobody).
func ipOf(a *Actor) string {
	if a == nil {
		return ""
	}
	return a.IP
}

// create makes the account of e (role user, no password), with the
// groups it names (created when missing); the audit log names actor as
// its creator. An e-mail address another account holds is left out. bad,
// when not nil, hears of groups whose names do not map.
func (d *Directory) create(ctx context.Context, a *Actor, actor string, e directory.Entry, bad func(error)) (*store.User, error) {
	name := policies.NormalizeUsername(e.Username)
	if err := policies.ValidateUsername(name); err != nil {
		return nil, fmt.Errorf("directory person %q: %w", e.Username, err)
	}
	email, fullName := profileOf(e)
	var groups []string
	if d.dir.SyncGroups {
		groups = groupNames(e.Groups, bad)
	}
	mk := func(email string) *store.User {
		return &store.User{Username: name, Email: email, FullName: fullName, Role: policies.RoleUser,
			Groups: groups, Source: store.SourceLDAP, ExternalID: e.DN, ExternalGroups: slices.Clone(groups)}
	}
	u, err := d.Users.CreateValidated(ctx, a, actor, mk(email), "")
	if err != nil && errors.Is(err, ErrConflict) && email != "" {
		if _, uerr := d.store.UserByUsername(name); errors.Is(uerr, store.ErrNotFound) {
			d.log.Warn("a directory person's e-mail address belongs to another account: not taken", "user", name)
			u, err = d.Users.CreateValidated(ctx, a, actor, mk(""), "")
		}
	}
	return u, err
}
