package core

import (
	"errors"
	"slices"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Several nodes on one PostgreSQL database: the store keeps its own caches
// current with what the other nodes write (store/cluster.go) and tells the
// core which kinds of records changed, so the core's caches follow too:
// settings, custom roles, the apps made in the portal and every app's
// stored access rules. On Badger this never runs.

// applyRemote re-reads the core's caches of the kinds of records another
// node changed (store key prefixes), or all of them.
func (c *Core) applyRemote(prefixes map[string]bool, all bool) {
	changed := func(p string) bool { return all || prefixes[p] }
	if changed("setting/") {
		if err := c.loadSettings(); err != nil {
			c.log.Error("another node changed the settings; reading them failed", "error", err)
		}
	}
	if changed("role/") {
		if err := c.ReloadRoles(); err != nil {
			c.log.Error("another node changed the roles; reading them failed", "error", err)
		}
	}
	if changed("appdef/") {
		if err := c.Access.syncMadeApps(); err != nil {
			c.log.Error("another node changed the apps; reading them failed", "error", err)
		}
	}
	if changed("app/") || changed("group/") || changed("appdef/") {
		c.Access.refreshAppAccess()
	}
}

// syncMadeApps brings the registry's apps made in the portal in line with
// the stored ones: new ones registered, deleted ones removed (with the
// OnAppDelete hooks), an OIDC client's secret or settings replaced.
func (s *Access) syncMadeApps() error {
	recs, err := s.store.ListAppDefs()
	if err != nil {
		return err
	}
	stored := make(map[string]bool, len(recs))
	s.apps.mu.Lock()
	for _, rec := range recs {
		stored[rec.Name] = true
		if a, ok := s.apps.apps[rec.Name]; ok {
			if a.Made && rec.OIDC != nil {
				if cl, err := s.clientOf(rec.OIDC); err == nil {
					a.oidc.Store(cl)
				}
			}
			continue
		}
		acc, err := s.store.AppAccess(rec.Name)
		if errors.Is(err, store.ErrNotFound) {
			acc, err = &store.AppAccess{App: rec.Name}, nil
		}
		if err != nil {
			s.apps.mu.Unlock()
			return err
		}
		if a, err := s.madeApp(rec, acc); err == nil {
			s.apps.apps[a.Name] = a
		}
	}
	var gone []string
	for name, a := range s.apps.apps {
		if a.Made && !a.Guarded() && !stored[name] {
			delete(s.apps.apps, name)
			gone = append(gone, name)
		}
	}
	hooks := slices.Clone(s.apps.onDelete)
	s.apps.mu.Unlock()
	for _, name := range gone {
		for _, f := range hooks {
			f(name)
		}
	}
	return nil
}

// refreshAppAccess re-reads every app's stored access rule, as
// UpdateAppAccess puts it in force.
func (s *Access) refreshAppAccess() {
	for _, a := range s.Apps() {
		rec, err := s.store.AppAccess(a.Name)
		if err != nil {
			continue
		}
		if !a.Configured {
			a.access.Store(policies.CompileAccess(rec.AllowGroups, rec.AllowUsers))
		}
		a.require2FA.Store(a.Require2FAConfigured || rec.Require2FA)
		a.appPasswords.Store(a.AppPasswordsConfigured || rec.AppPasswords)
	}
}
