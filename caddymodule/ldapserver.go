package caddymodule

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/ldapserver"
)

// LDAPServerConfig turns on the directory server (package ldapserver): a
// read-only LDAP view of the users and groups for apps that only speak
// LDAP. In the Caddyfile's gatehouse block:
//
//	ldap_server {
//		listen          127.0.0.1:3890
//		listen_tls      127.0.0.1:6360
//		base_dn         dc=example,dc=com
//		allow           127.0.0.1/32 10.0.0.0/8
//		tls_server_name ldap.example.com
//		size_limit      1000
//		posix_ids       10000-60000
//	}
//
// Certificates for StartTLS and LDAPS come from Caddy's own certificate
// management (the tls app): the name is managed like a site's, by ACME for
// a public name and by Caddy's internal CA otherwise. Bind clients are made
// in the portal or with POST /api/v1/ldap/clients.
type LDAPServerConfig struct {
	// Listen are the addresses of plain LDAP (with StartTLS), e.g.
	// "127.0.0.1:3890". At least one of Listen and ListenTLS is required.
	Listen []string `json:"listen,omitempty"`
	// ListenTLS are the addresses of LDAPS (TLS from the first byte).
	ListenTLS []string `json:"listen_tls,omitempty"`
	// BaseDN is the root of the tree. Default: dc=gatehouse.
	BaseDN string `json:"base_dn,omitempty"`
	// Allow lists the client addresses and networks (CIDR) that may
	// connect; every other address is disconnected before it can send
	// anything, and the refusal is logged once a minute per address.
	// Default: loopback only.
	Allow []string `json:"allow,omitempty"`
	// TLSServerName is the name of the certificate served by StartTLS
	// and LDAPS. Default: the portal's host name.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// SizeLimit is the most entries a search, or a page of a paged
	// search, returns. Default: 1000.
	SizeLimit int `json:"size_limit,omitempty"`
	// PosixIDs, "FROM-TO", turns on POSIX accounts for Linux hosts
	// (SSSD, nslcd): users and groups get uid and gid numbers from this
	// range, stable for life and never reused (store.SetPosixIDs), and
	// are served as posixAccount and posixGroup. Off unless set.
	PosixIDs string `json:"posix_ids,omitempty"`
}

// parsePosixIDs reads a posix_ids range: FROM-TO, both included, from
// 1000 (below are the system's own accounts) to 2147483647 (tools that
// read uids as signed 32-bit numbers), not across 65534 and 65535
// (nobody, and -1 as a 16-bit id).
func parsePosixIDs(v string) (lo, hi uint32, err error) {
	a, b, ok := strings.Cut(v, "-")
	l, err1 := strconv.ParseUint(a, 10, 32)
	h, err2 := strconv.ParseUint(b, 10, 32)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("ldap_server: posix_ids %q: want FROM-TO, e.g. 10000-60000", v)
	case l < 1000:
		return 0, 0, fmt.Errorf("ldap_server: posix_ids %q: start at 1000 or above (lower numbers are the system's own accounts)", v)
	case h < l:
		return 0, 0, fmt.Errorf("ldap_server: posix_ids %q: the end is below the start", v)
	case h > math.MaxInt32:
		return 0, 0, fmt.Errorf("ldap_server: posix_ids %q: end at 2147483647 or below", v)
	case l <= 65535 && h >= 65534:
		return 0, 0, fmt.Errorf("ldap_server: posix_ids %q: must not hold 65534 (nobody) or 65535; e.g. 10000-60000 or 100000-2000000", v)
	}
	return uint32(l), uint32(h), nil
}

// check validates c; it touches nothing.
func (c *LDAPServerConfig) check() error {
	if len(c.Listen) == 0 && len(c.ListenTLS) == 0 {
		return errors.New("ldap_server: name at least one listen or listen_tls address")
	}
	for _, a := range append(append([]string{}, c.Listen...), c.ListenTLS...) {
		if err := checkListenAddr(a); err != nil {
			return err
		}
	}
	if c.BaseDN != "" {
		if err := ldapserver.CheckBaseDN(c.BaseDN); err != nil {
			return fmt.Errorf("ldap_server: base_dn %q: %v", c.BaseDN, err)
		}
	}
	if _, err := parseAllow(c.Allow); err != nil {
		return err
	}
	if c.TLSServerName != "" && !validDomain(strings.ToLower(c.TLSServerName)) && !certmagic.SubjectIsIP(c.TLSServerName) {
		return fmt.Errorf("ldap_server: tls_server_name %q: not a host name", c.TLSServerName)
	}
	if c.SizeLimit < 0 {
		return errors.New("ldap_server: size_limit must not be negative")
	}
	if c.PosixIDs != "" {
		if _, _, err := parsePosixIDs(c.PosixIDs); err != nil {
			return err
		}
	}
	return nil
}

// checkListenAddr accepts host:port with one TCP port.
func checkListenAddr(a string) error {
	na, err := caddy.ParseNetworkAddress(a)
	if err != nil || na.IsUnixNetwork() || na.PortRangeSize() != 1 || na.StartPort == 0 || !strings.HasPrefix(na.Network, "tcp") {
		return fmt.Errorf("ldap_server: listen address %q: want host:port with one TCP port (e.g. 127.0.0.1:3890)", a)
	}
	return nil
}

// parseAllow reads the allow list: CIDRs or single addresses.
func parseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("ldap_server: allow %q: not an address or CIDR (e.g. 10.0.0.0/8)", s)
		}
		out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-(p.Addr().BitLen()-p.Addr().Unmap().BitLen())).Masked())
	}
	return out, nil
}

// parseLDAPServer reads an ldap_server block. Syntax: see
// LDAPServerConfig.
func parseLDAPServer(d *caddyfile.Dispenser) (*LDAPServerConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("gatehouse: ldap_server: unexpected argument %q (options go in a block)", d.Val())
	}
	c := new(LDAPServerConfig)
	file, line := d.File(), d.Line()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "listen", "listen_tls":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Errf("gatehouse: ldap_server %s needs an address (e.g. 127.0.0.1:3890)", opt)
			}
			for _, a := range args {
				if err := checkListenAddr(a); err != nil {
					return nil, d.Err("gatehouse: " + err.Error())
				}
			}
			if opt == "listen" {
				c.Listen = append(c.Listen, args...)
			} else {
				c.ListenTLS = append(c.ListenTLS, args...)
			}
		case "base_dn":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if err := ldapserver.CheckBaseDN(v); err != nil {
				return nil, d.Errf("gatehouse: ldap_server base_dn %q: %v", v, err)
			}
			c.BaseDN = v
		case "allow":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Err("gatehouse: ldap_server allow needs addresses or CIDRs (e.g. 10.0.0.0/8)")
			}
			if _, err := parseAllow(args); err != nil {
				return nil, d.Err("gatehouse: " + err.Error())
			}
			c.Allow = append(c.Allow, args...)
		case "tls_server_name":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			c.TLSServerName = v
		case "size_limit":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("gatehouse: ldap_server size_limit %q: want a positive number of entries", v)
			}
			c.SizeLimit = n
		case "posix_ids":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if _, _, err := parsePosixIDs(v); err != nil {
				return nil, d.Err("gatehouse: " + err.Error())
			}
			c.PosixIDs = v
		default:
			return nil, d.Errf("gatehouse: ldap_server: unknown subdirective %q (want listen, listen_tls, base_dn, allow, tls_server_name, size_limit or posix_ids)", opt)
		}
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("gatehouse: %v, in the block at %s:%d", err, file, line)
	}
	return c, nil
}

// ldapRuntime is the running directory server of an App.
type ldapRuntime struct {
	srv     *ldapserver.Server
	tlsApp  *caddytls.TLS
	tlsName string
	ctx     caddy.Context
}

// provisionLDAP builds the directory server and its TLS config from
// Caddy's certificate management. A name that cannot have a public
// certificate (localhost, an internal name, an IP) gets Caddy's internal
// CA, as a site would, unless an automation policy already covers it.
func (a *App) provisionLDAP(ctx caddy.Context, c *core.Core) error {
	lc := a.LDAPServer
	if lc == nil {
		return c.Store().SetPosixIDs(0, 0)
	}
	if err := lc.check(); err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	var lo, hi uint32
	if lc.PosixIDs != "" {
		lo, hi, _ = parsePosixIDs(lc.PosixIDs)
	}
	// Numbers every user and group that has none yet (once: later ones
	// get theirs at creation), so searches never write.
	if err := c.Store().SetPosixIDs(lo, hi); err != nil {
		return fmt.Errorf("gatehouse: ldap_server: posix_ids: %w", err)
	}
	allow, _ := parseAllow(lc.Allow)
	name := lc.TLSServerName
	if name == "" {
		pu, _ := parsePortalURL(a.PortalURL)
		name = pu.Hostname()
	}
	name = strings.ToLower(name)
	tlsIface, err := ctx.App("tls")
	if err != nil {
		return fmt.Errorf("gatehouse: ldap_server: the tls app: %w", err)
	}
	tlsApp := tlsIface.(*caddytls.TLS)
	if !certmagic.SubjectQualifiesForPublicCert(name) && !policyCovers(tlsApp, name) {
		iss := new(caddytls.InternalIssuer)
		if err := iss.Provision(ctx); err != nil {
			return fmt.Errorf("gatehouse: ldap_server: internal CA: %w", err)
		}
		if err := tlsApp.AddAutomationPolicy(&caddytls.AutomationPolicy{SubjectsRaw: []string{name}, Issuers: []certmagic.Issuer{iss}}); err != nil {
			return fmt.Errorf("gatehouse: ldap_server: certificate policy for %s: %w", name, err)
		}
	}
	pols := caddytls.ConnectionPolicies{{DefaultSNI: name, FallbackSNI: name, ALPN: []string{}}}
	if err := pols.Provision(ctx); err != nil {
		return fmt.Errorf("gatehouse: ldap_server: TLS: %w", err)
	}
	var tlsCfg *tls.Config = pols.TLSConfig(ctx)
	srv, err := ldapserver.New(c, ldapserver.Config{BaseDN: lc.BaseDN, Allow: allow, SizeLimit: lc.SizeLimit, TLS: tlsCfg,
		Logger: ctx.Slogger()})
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	a.ldap = &ldapRuntime{srv: srv, tlsApp: tlsApp, tlsName: name, ctx: ctx}
	return nil
}

// policyCovers reports whether an automation policy of app names name.
func policyCovers(app *caddytls.TLS, name string) bool {
	if app.Automation == nil {
		return false
	}
	for _, ap := range app.Automation.Policies {
		for _, s := range ap.SubjectsRaw {
			if certmagic.MatchWildcard(name, strings.ToLower(s)) {
				return true
			}
		}
	}
	return false
}

// startLDAP has the certificate managed and starts listening. Listeners
// come from Caddy's pool, so a reload (the new config starts before the
// old one stops) shares the sockets instead of failing to bind.
func (a *App) startLDAP() error {
	r := a.ldap
	if r == nil {
		return nil
	}
	if err := r.tlsApp.Manage(map[string]struct{}{r.tlsName: {}}); err != nil {
		return fmt.Errorf("gatehouse: ldap_server: certificate for %s: %w", r.tlsName, err)
	}
	listen := func(addr string) (net.Listener, error) {
		na, err := caddy.ParseNetworkAddress(addr)
		if err != nil {
			return nil, err
		}
		ln, err := na.Listen(r.ctx, 0, net.ListenConfig{})
		if err != nil {
			return nil, fmt.Errorf("gatehouse: ldap_server: listen on %s: %w", addr, err)
		}
		return ln.(net.Listener), nil
	}
	var started []net.Listener
	fail := func(err error) error {
		for _, l := range started {
			l.Close()
		}
		return err
	}
	lc := a.LDAPServer
	for _, addr := range lc.Listen {
		l, err := listen(addr)
		if err != nil {
			return fail(err)
		}
		started = append(started, l)
		go func() { _ = r.srv.Serve(l) }()
	}
	for _, addr := range lc.ListenTLS {
		l, err := listen(addr)
		if err != nil {
			return fail(err)
		}
		started = append(started, l)
		go func() { _ = r.srv.ServeTLS(l) }()
	}
	r.ctx.Slogger().Info("directory server started", "listen", lc.Listen, "listen_tls", lc.ListenTLS,
		"base_dn", r.srv.BaseDN(), "tls_server_name", r.tlsName)
	return nil
}

// stopLDAP closes the listeners and every connection.
func (a *App) stopLDAP() error {
	if a.ldap == nil {
		return nil
	}
	return a.ldap.srv.Close()
}
