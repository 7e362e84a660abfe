package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// SyncReport is what a synchronisation with the external directory did.
type SyncReport struct {
	StartedAt time.Time `json:"started_at"`
	// DurationMS is how long it took, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// People is how many people the directory listed.
	People int `json:"people"`
	// Created, Updated and Disabled count accounts.
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Disabled int `json:"disabled"`
	// GroupsCreated counts groups made for directory groups.
	GroupsCreated int `json:"groups_created"`
	// Errors say what could not be done (an entry whose username is not
	// one of ours, a local account with a directory person's username…);
	// the rest was done all the same.
	Errors []string `json:"errors"`
}

// Summary is the report in one line, for the audit log and the portal.
func (r SyncReport) Summary() string {
	return fmt.Sprintf("%d people: %d created, %d updated, %d disabled, %d groups created, %d errors",
		r.People, r.Created, r.Updated, r.Disabled, r.GroupsCreated, len(r.Errors))
}

// maxSyncErrors bounds the errors a report lists; the count goes on.
const maxSyncErrors = 100

func (r *SyncReport) fail(format string, args ...any) {
	if len(r.Errors) < maxSyncErrors {
		r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
	} else if len(r.Errors) == maxSyncErrors {
		r.Errors = append(r.Errors, "… and more")
	}
}

// directorySync is the synchronisation's state: one at a time, and the
// last report (kept in the store too, so a restart does not forget it).
type directorySync struct {
	mu     sync.Mutex
	last   atomic.Pointer[SyncReport]
	loaded sync.Once
}

// lastSyncSetting keeps the last synchronisation's report.
const lastSyncSetting = "directory_last_sync"

// LastSync returns the report of the last synchronisation, or nil when
// there was none (or the store cannot say).
func (d *Directory) LastSync() *SyncReport {
	d.sync.loaded.Do(func() {
		var rep SyncReport
		if err := d.store.Setting(lastSyncSetting, &rep); err == nil {
			d.sync.last.CompareAndSwap(nil, &rep)
		} else if !errors.Is(err, store.ErrNotFound) {
			d.log.Warn("cannot read the last directory synchronisation's report", "error", err)
		}
	})
	return d.sync.last.Load()
}

// errSyncRunning refuses a synchronisation while another runs.
var errSyncRunning = conflictMsg("a synchronisation with the directory is already running; try again when it is done")

// Sync reads the whole directory and makes the accounts follow it: every
// person gets an account (made when missing, role user), their e-mail
// address, full name and (with SyncGroups) memberships of directory groups
// are refreshed, the directory's groups are made, and directory accounts
// whose person is gone are disabled (their sessions and API keys end),
// never deleted. Groups gone from the directory stay; directory users'
// memberships of them go. Local accounts are never touched, and a local
// account with a directory person's username is reported, not taken over.
//
// c needs users.write. Disabling goes through Users.UpdateUser on c's
// behalf, so c cannot disable through the directory an account it could
// not disable itself (that is reported), and the last owner is never
// disabled. The run is audited with its report.
func (d *Directory) Sync(ctx context.Context, c *Actor) (SyncReport, error) {
	if err := Need(c, policies.PermUsersWrite); err != nil {
		return SyncReport{}, err
	}
	if d.dir == nil {
		return SyncReport{}, fmt.Errorf("no external directory is configured (add a directory ldap block to the gatehouse global option): %w", ErrNotFound)
	}
	if !d.sync.mu.TryLock() {
		return SyncReport{}, errSyncRunning
	}
	defer d.sync.mu.Unlock()
	rep := SyncReport{StartedAt: d.now(), Errors: []string{}}
	audit := func(outcome, reason string) {
		d.Audit(c, store.Event{Actor: c.User.Username, Action: ActionDirectorySync, Resource: "directory", Outcome: outcome, Reason: reason})
	}
	snap, err := d.dir.Client.Snapshot(ctx, d.dir.SyncGroups)
	if err != nil {
		d.log.Warn("external directory unavailable for a synchronisation", "error", err)
		audit(OutcomeFailure, "directory unavailable")
		return SyncReport{}, ErrDirectoryUnavailable
	}
	rep.People = len(snap.Users)
	if snap.Skipped > 0 {
		rep.fail("%d entries have no %s attribute and were skipped", snap.Skipped, d.dir.Client.Config().UsernameAttribute)
	}
	if d.dir.SyncGroups {
		d.syncGroups(snap.Groups, &rep)
	}
	seen := make(map[string]bool, len(snap.Users))
	for _, e := range snap.Users {
		name := policies.NormalizeUsername(e.Username)
		if err := policies.ValidateUsername(name); err != nil {
			rep.fail("%s: %v", e.DN, err)
			continue
		}
		if seen[name] {
			rep.fail("%s: another entry has the username %q too; skipped", e.DN, name)
			continue
		}
		seen[name] = true
		u, err := d.store.UserByUsername(name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if _, err := d.create(ctx, c, c.User.Username, e, func(err error) { rep.fail("%s: %v", e.DN, err) }); err != nil {
				rep.fail("%s: cannot create the account: %s", e.DN, plainErr(err))
				continue
			}
			rep.Created++
		case err != nil:
			return rep, fmt.Errorf("core: look up %s: %w", name, err)
		case !d.Manages(u):
			rep.fail("%s: a local account is named %q; it is not linked to the directory", e.DN, name)
		default:
			updated, err := d.refresh(c, c.User.Username, u, e, false)
			if err != nil {
				rep.fail("%s: %s", e.DN, plainErr(err))
				continue
			}
			if profileChanged(u, updated) {
				rep.Updated++
			}
		}
	}
	d.disableGone(c, seen, len(snap.Users), &rep)
	rep.DurationMS = d.now().Sub(rep.StartedAt).Milliseconds()
	d.sync.last.Store(&rep)
	if err := d.store.PutSetting(lastSyncSetting, rep); err != nil {
		d.log.Warn("cannot keep the directory synchronisation's report", "error", err)
	}
	audit(OutcomeSuccess, rep.Summary())
	return rep, nil
}

// plainErr is err's message without the sentinel's name.
func plainErr(err error) string {
	msg := err.Error()
	msg = strings.TrimSuffix(msg, ": "+ErrConflict.Error())
	return msg
}

// profileChanged reports whether a refresh changed what an account shows.
func profileChanged(a, b *store.User) bool {
	return a.Email != b.Email || a.FullName != b.FullName || a.ExternalID != b.ExternalID ||
		strings.Join(a.Groups, ",") != strings.Join(b.Groups, ",")
}

// syncGroups makes a group for each directory group that has none.
func (d *Directory) syncGroups(ext []string, rep *SyncReport) {
	var missing []string
	for _, name := range groupNames(ext, func(err error) { rep.fail("%v", err) }) {
		if _, err := d.store.Group(name); errors.Is(err, store.ErrNotFound) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	if err := d.store.EnsureGroups(missing); err != nil {
		rep.fail("cannot create groups: %v", err)
		return
	}
	rep.GroupsCreated = len(missing)
}

// disableGone disables the directory accounts whose username the
// directory no longer lists. A directory that lists nobody disables
// nobody: that is far likelier a wrong base_dn or filter than everyone
// leaving at once.
func (d *Directory) disableGone(c *Actor, seen map[string]bool, listed int, rep *SyncReport) {
	var gone []*store.User
	err := d.Users.EachUser(func(u *store.User) {
		if d.Manages(u) && !seen[u.Username] && !u.Disabled {
			gone = append(gone, u)
		}
	})
	if err != nil {
		rep.fail("cannot list the accounts: %v", err)
		return
	}
	if len(gone) == 0 {
		return
	}
	if listed == 0 {
		rep.fail("the directory listed nobody: %d directory accounts were left enabled (check base_dn and filter)", len(gone))
		return
	}
	off := false
	for _, u := range gone {
		if _, err := d.Users.UpdateUser(c, u.ID, UserPatch{Active: &off}); err != nil {
			rep.fail("%s is gone from the directory but cannot be disabled: %s", u.Username, plainMessage(err))
			continue
		}
		rep.Disabled++
	}
}

// plainMessage is err's message without the names of the sentinel errors
// it wraps.
func plainMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": ")
	return strings.TrimSuffix(msg, ": "+ErrConflict.Error())
}

// SystemActor is the actor of what the server does by itself on a
// schedule (the directory's synchronisation): an owner named name in the
// audit log.
func (c *Core) SystemActor(name string) *Actor {
	perms, _ := policies.RolePermissions(policies.RoleOwner)
	return &Actor{User: &store.User{Username: name, Role: policies.RoleOwner}, Perms: perms, Via: ViaCLI, Credential: CredLocal}
}

// RunSync synchronises with the directory every SyncInterval until ctx
// ends; it returns at once when there is no directory or no interval. A
// failed run is logged and retried at the next tick.
func (d *Directory) RunSync(ctx context.Context) {
	if d.dir == nil || d.dir.SyncInterval <= 0 {
		return
	}
	t := time.NewTicker(d.dir.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := d.Sync(ctx, d.SystemActor("directory-sync"))
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("scheduled directory synchronisation failed", "error", err)
			}
			continue
		}
		d.log.Info("directory synchronised", "report", rep.Summary())
	}
}
