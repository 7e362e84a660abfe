package caddymodule

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/core"
)

// BackupConfig makes the server take backups itself:
//
//	backup {
//		every 24h
//		keep  14
//		dir   /var/backups/gatehouse
//	}
//
// Each backup is written to a temporary file in Dir, synced, renamed to
// gatehouse-<UTC time>.backup (mode 0600) and read back through before it
// counts; then the oldest files of that name beyond Keep are removed. The
// history (time, file, size, result, error) is in the store and on the
// portal's settings page, where owners also find a "Back up now" button
// (and POST /api/v1/backups). With several nodes on one PostgreSQL store,
// the node holding the store's lease "backup" takes the scheduled ones.
type BackupConfig struct {
	// Every is how often a backup is taken: a backup is due when the last
	// scheduled one is this old (also after a restart). 0 or unset: only
	// backups on request.
	Every caddy.Duration `json:"every,omitempty"`
	// Keep is how many backups are kept in Dir. Default: 14.
	Keep int `json:"keep,omitempty"`
	// Dir is the absolute path of the directory the backups are written
	// to; it is created (mode 0700) when its parent exists. It may hold
	// placeholders such as {env.BACKUP_DIR}. Required.
	Dir string `json:"dir"`
}

// options checks bc and returns it as core options.
func (bc *BackupConfig) options() (*core.BackupOptions, error) {
	dir := caddy.NewReplacer().ReplaceKnown(bc.Dir, "")
	switch {
	case dir == "":
		return nil, fmt.Errorf("gatehouse: backup: dir is required (e.g. dir /var/backups/gatehouse)")
	case !filepath.IsAbs(dir):
		return nil, fmt.Errorf("gatehouse: backup: dir %q must be an absolute path", bc.Dir)
	case bc.Every < 0:
		return nil, fmt.Errorf("gatehouse: backup: every must not be negative")
	case bc.Keep < 0:
		return nil, fmt.Errorf("gatehouse: backup: keep must be at least 1")
	}
	return &core.BackupOptions{Dir: filepath.Clean(dir), Every: time.Duration(bc.Every), Keep: bc.Keep}, nil
}

// parseBackup reads the backup block; see BackupConfig.
func parseBackup(d *caddyfile.Dispenser) (*BackupConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("gatehouse: backup: unexpected argument %q (the settings go in a block: every, keep and dir, one a line)", d.Val())
	}
	bc := &BackupConfig{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		switch opt {
		case "every":
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < time.Second {
				return nil, d.Errf("gatehouse: backup: every %q is not a duration of at least 1s (e.g. 24h, 7d)", v)
			}
			bc.Every = caddy.Duration(dur)
		case "keep":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				return nil, d.Errf("gatehouse: backup: keep %q is not a whole number from 1 to 10000", v)
			}
			bc.Keep = n
		case "dir":
			if !filepath.IsAbs(v) && !isPlaceholder(v) {
				return nil, d.Errf("gatehouse: backup: dir %q must be an absolute path", v)
			}
			bc.Dir = v
		default:
			return nil, d.Errf("gatehouse: backup: unknown setting %q (want every, keep or dir)", opt)
		}
	}
	if bc.Dir == "" {
		return nil, d.Err("gatehouse: backup: dir is required (e.g. dir /var/backups/gatehouse)")
	}
	return bc, nil
}

// isPlaceholder reports whether v starts with a Caddy placeholder, whose
// value is only known at provision time.
func isPlaceholder(v string) bool { return len(v) > 1 && v[0] == '{' }
