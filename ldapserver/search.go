package ldapserver

import (
	"slices"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Search scopes.
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// The phases of a search: the tree in the order entries are sent. A paged
// search's cookie is the phase and key of the last entry sent, so the next
// page starts right after it, with no state kept on the server.
const (
	phBase = iota + 1
	phUsersOU
	phUsers
	phGroupsOU
	phGroups
	phSystemOU
	phClients
)

// walkBatch is how many accounts are copied out of the directory per
// read lock (see store.EachAccount).
const walkBatch = 256

// position is where an entry sits in the search order.
type position struct {
	phase int
	key   string
}

func (p position) after(q position) bool {
	return p.phase > q.phase || p.phase == q.phase && p.key > q.key
}

// selection is a search's attribute list.
type selection struct {
	allUser, allOp bool
	named          map[string]bool
}

func parseSelection(p *ber.Packet) selection {
	sel := selection{named: map[string]bool{}}
	if p == nil || len(p.Children) == 0 {
		sel.allUser = true
		return sel
	}
	for _, a := range p.Children {
		name, _ := octets(a)
		switch name = strings.TrimSpace(name); name {
		case "*":
			sel.allUser = true
		case "+":
			sel.allOp = true
		case "1.1", "":
		default:
			sel.named[canonicalAttr(name)] = true
		}
	}
	return sel
}

// wants reports whether attr is to be sent.
func (sel selection) wants(attr string) bool {
	if sel.named[attr] {
		return true
	}
	if operational(attr) {
		return sel.allOp
	}
	return sel.allUser || (sel.allOp && attr == "entryuuid")
}

// searchRun is one search being answered.
type searchRun struct {
	c         *conn
	req       *request
	v         *view
	f         *filter
	sel       selection
	typesOnly bool
	limit     int
	paged     bool
	start     position // resume strictly after this (paged)
	sent      int
	last      position
	// stopped: the limit was reached and another entry matched.
	stopped bool
	only    string // a single user, group or client (lowercase), or ""
	// user and acct are reused for every user offered: offer keeps
	// neither, so walking 100,000 users allocates no entry for each.
	user entry
	acct store.Account
	// attrs is reused by sendEntry.
	attrs []attr
}

// search answers a SearchRequest.
func (c *conn) search(req *request) {
	op := req.op
	done := func(code int, matched, diag string, controls ...*ber.Packet) {
		c.s.core.Metrics().LDAP("search", ldapResult(code))
		c.send(req.id, result(appSearchDone, code, matched, diag), controls...)
	}
	if op.TagType != ber.TypeConstructed || len(op.Children) < 7 || len(op.Children) > 8 {
		done(resultProtocolError, "", "malformed search request")
		return
	}
	base, ok := octets(op.Children[0])
	scope, ok2 := op.Children[1].Value.(int64)
	sizeLimit, ok3 := op.Children[3].Value.(int64)
	typesOnly, _ := op.Children[5].Value.(bool)
	if !ok || !ok2 || !ok3 || scope < scopeBase || scope > scopeSub || sizeLimit < 0 {
		done(resultProtocolError, "", "malformed search request")
		return
	}
	f, err := compileFilter(c.s.tree, op.Children[6])
	if err != nil {
		done(resultProtocolError, "", "invalid filter, or deeper than 32 levels or bigger than 512 items")
		return
	}
	var attrs *ber.Packet
	if len(op.Children) == 8 {
		attrs = op.Children[7]
	}
	run := &searchRun{c: c, req: req, f: f, sel: parseSelection(attrs), typesOnly: typesOnly, limit: c.s.cfg.SizeLimit}
	if sizeLimit > 0 && int(sizeLimit) < run.limit {
		run.limit = int(sizeLimit)
	}
	for _, ctl := range req.controls {
		if ctl.oid != oidPagedResults {
			continue
		}
		size, cookie, ok := parsePaging(ctl.value)
		if !ok {
			done(resultProtocolError, "", "malformed paged results control")
			return
		}
		if size == 0 { // abandon the paged search
			done(resultSuccess, "", "", pagingControl(""))
			return
		}
		run.paged = true
		run.limit = min(run.limit, size)
		if cookie != "" {
			if run.start, ok = parseCookie(cookie); !ok {
				done(resultProtocolError, "", "invalid paged results cookie")
				return
			}
		}
	}

	rdns, err := parseDN(base)
	if err != nil {
		done(resultInvalidDNSyntax, "", "invalid base DN")
		return
	}
	t := c.s.tree
	n, under := t.locate(rdns)
	if n.kind == nodeRootDSE {
		if scope == scopeBase {
			e := &entry{kind: nodeRootDSE}
			if f.match(c.s, e) {
				run.sendEntry(e)
			}
		}
		done(resultSuccess, "", "")
		return
	}
	if run.v = c.view(); run.v == nil {
		done(resultInsufficientAccess, "", "bind first: anonymous binds read the root DSE only")
		return
	}
	if n.kind == nodeNone {
		matched := ""
		if under {
			matched = t.base
		}
		done(resultNoSuchObject, matched, "no such entry")
		return
	}
	phases, only := phasesOf(n, int(scope))
	run.only = only
	if only != "" && !run.exists(n) {
		done(resultNoSuchObject, t.dnOf(parentOf(n.kind)), "no such entry")
		return
	}
	if err := run.walk(phases); err != nil {
		c.s.log.Error("ldap search failed", "ip", c.ip, "error", err)
		done(resultOther, "", "internal error")
		return
	}
	switch {
	case run.paged && run.stopped:
		done(resultSuccess, "", "", pagingControl(cookieOf(run.last)))
	case run.paged:
		done(resultSuccess, "", "", pagingControl(""))
	case run.stopped:
		done(resultSizeLimitExceeded, "", "size limit of "+strconv.Itoa(run.limit)+" entries reached: use the paged results control")
	default:
		done(resultSuccess, "", "")
	}
}

// phasesOf are the phases a search of n with scope covers, and the one
// entry it is limited to (a user, group or client search).
func phasesOf(n node, scope int) ([]int, string) {
	switch n.kind {
	case nodeBase:
		switch scope {
		case scopeBase:
			return []int{phBase}, ""
		case scopeOne:
			return []int{phUsersOU, phGroupsOU, phSystemOU}, ""
		}
		return []int{phBase, phUsersOU, phUsers, phGroupsOU, phGroups, phSystemOU, phClients}, ""
	case nodeUsersOU, nodeGroupsOU, nodeSystemOU:
		self, kids := n.kind, phUsers
		ph := phUsersOU
		if self == nodeGroupsOU {
			ph, kids = phGroupsOU, phGroups
		} else if self == nodeSystemOU {
			ph, kids = phSystemOU, phClients
		}
		switch scope {
		case scopeBase:
			return []int{ph}, ""
		case scopeOne:
			return []int{kids}, ""
		}
		return []int{ph, kids}, ""
	case nodeUser, nodeGroup, nodeClient:
		if scope == scopeOne {
			return nil, ""
		}
		ph := map[nodeKind]int{nodeUser: phUsers, nodeGroup: phGroups, nodeClient: phClients}[n.kind]
		return []int{ph}, n.name
	}
	return nil, ""
}

// parentOf is the container of a leaf kind.
func parentOf(k nodeKind) nodeKind {
	switch k {
	case nodeUser:
		return nodeUsersOU
	case nodeGroup:
		return nodeGroupsOU
	case nodeClient:
		return nodeSystemOU
	}
	return nodeBase
}

// exists reports whether the leaf n is visible to the run.
func (r *searchRun) exists(n node) bool {
	s := r.c.s
	switch n.kind {
	case nodeUser:
		a, err := s.core.Store().AccountNamed(n.name)
		return err == nil && r.v.visible(&a, s.core)
	case nodeClient:
		return r.v.client == n.name
	case nodeGroup:
		g, err := r.groups(n.name)
		return err == nil && len(g) == 1
	}
	return false
}

// walk offers the entries of phases, in order, from after r.start.
func (r *searchRun) walk(phases []int) error {
	t := r.c.s.tree
	for _, ph := range phases {
		if r.stopped {
			return nil
		}
		if ph < r.start.phase {
			continue
		}
		var err error
		switch ph {
		case phBase:
			r.offer(position{ph, ""}, &entry{kind: nodeBase, dn: t.base, hasKids: true})
		case phUsersOU:
			r.offer(position{ph, ""}, &entry{kind: nodeUsersOU, dn: t.dnOf(nodeUsersOU), hasKids: true})
		case phGroupsOU:
			r.offer(position{ph, ""}, &entry{kind: nodeGroupsOU, dn: t.dnOf(nodeGroupsOU), hasKids: true})
		case phSystemOU:
			r.offer(position{ph, ""}, &entry{kind: nodeSystemOU, dn: t.dnOf(nodeSystemOU), hasKids: true})
		case phUsers:
			err = r.walkUsers()
		case phGroups:
			err = r.walkGroups()
		case phClients:
			if name := r.v.client; name != "" && (r.only == "" || r.only == name) {
				r.offer(position{ph, name}, &entry{kind: nodeClient, name: name, dn: t.clientDN(name)})
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walkUsers offers the visible users: one, when the search names one or
// its filter requires one uid, else all of them in username order.
func (r *searchRun) walkUsers() error {
	s := r.c.s
	name := r.only
	if name == "" {
		name, _ = r.f.usernameHint()
	}
	if name != "" {
		a, err := s.core.Store().AccountNamed(name)
		if err == nil && r.v.visible(&a, s.core) {
			r.offerUser(a)
		}
		return nil
	}
	after := ""
	if r.start.phase == phUsers {
		after = r.start.key
	}
	group, _ := r.f.groupHint()
	batch := make([]store.Account, 0, walkBatch)
	for !r.stopped {
		batch = batch[:0]
		if err := s.core.Store().EachAccountIn(group, after, func(a store.Account) bool {
			batch = append(batch, a)
			return len(batch) < walkBatch
		}); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for i := range batch {
			after = strings.ToLower(batch[i].Username)
			if r.v.visible(&batch[i], s.core) {
				if r.offerUserNamed(after, batch[i]); r.stopped {
					return nil
				}
			}
		}
	}
	return nil
}

func (r *searchRun) offerUser(a store.Account) {
	r.offerUserNamed(strings.ToLower(a.Username), a)
}

// offerUserNamed is offerUser with the lowercase username name.
func (r *searchRun) offerUserNamed(name string, a store.Account) {
	r.acct = a
	r.user = entry{kind: nodeUser, name: name, acct: &r.acct}
	r.offer(position{phUsers, name}, &r.user)
}

// groups returns the groups with at least one visible member (only the
// one called only, when not empty), by lowercase name. A group exists in
// the tree through its members: groupOfNames needs one.
func (r *searchRun) groups(only string) (map[string]*groupInfo, error) {
	s := r.c.s
	out := map[string]*groupInfo{}
	after := ""
	batch := make([]store.Account, 0, walkBatch)
	for {
		batch = batch[:0]
		if err := s.core.Store().EachAccount(after, func(a store.Account) bool {
			batch = append(batch, a)
			return len(batch) < walkBatch
		}); err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			if s.posixOn() {
				for _, gi := range out {
					gi.gid = s.core.Store().GroupGID(gi.name)
				}
			}
			return out, nil
		}
		for i := range batch {
			a := &batch[i]
			after = strings.ToLower(a.Username)
			if len(a.Groups) == 0 || !r.v.visible(a, s.core) {
				continue
			}
			for _, g := range a.Groups {
				lg := strings.ToLower(g)
				if only != "" && lg != only {
					continue
				}
				gi := out[lg]
				if gi == nil {
					gi = &groupInfo{name: g}
					out[lg] = gi
				}
				gi.members = append(gi.members, a.Username)
			}
		}
	}
}

// walkGroups offers the groups in name order.
func (r *searchRun) walkGroups() error {
	gs, err := r.groups(r.only)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(gs))
	for n := range gs {
		names = append(names, n)
	}
	slices.Sort(names)
	t := r.c.s.tree
	for _, n := range names {
		r.offer(position{phGroups, n}, &entry{kind: nodeGroup, name: n, dn: t.groupDN(gs[n].name), group: gs[n]})
		if r.stopped {
			return nil
		}
	}
	return nil
}

// offer sends e when it matches, is past the page's start and within the
// limit; past the limit it stops the run.
func (r *searchRun) offer(pos position, e *entry) {
	if r.stopped || (r.start.phase != 0 && !pos.after(r.start)) || !r.f.match(r.c.s, e) {
		return
	}
	if r.sent == r.limit {
		r.stopped = true
		return
	}
	r.sendEntry(e)
	r.sent++
	r.last = pos
}

// sendEntry writes e as a SearchResultEntry with the selected attributes.
func (r *searchRun) sendEntry(e *entry) {
	s := r.c.s
	r.attrs = r.attrs[:0]
	for _, a := range attrsOf(e.kind) {
		if e.kind == nodeRootDSE {
			if !r.sel.allUser && !r.sel.allOp && !r.sel.named[a] {
				continue
			}
		} else if !r.sel.wants(a) {
			continue
		}
		vals := e.values(s.tree, s, a)
		if len(vals) == 0 {
			continue
		}
		r.attrs = append(r.attrs, attr{name: attrNames[a], vals: vals})
	}
	r.c.sendRaw(r.c.entries.write(r.req.id, e.dnIn(s.tree), r.attrs, r.typesOnly))
}

// attrsOf lists the attributes a kind of entry may send, in order.
func attrsOf(k nodeKind) []string {
	var own []string
	switch k {
	case nodeRootDSE:
		return rootAttrs
	case nodeUser:
		own = userAttrs
	case nodeGroup:
		own = groupAttrs
	case nodeUsersOU, nodeGroupsOU, nodeSystemOU:
		own = ouAttrs
	case nodeClient:
		own = clientAttrs
	case nodeBase:
		own = []string{"objectclass", "dc", "o", "ou"}
	}
	out := slices.Clone(own)
	for _, a := range opAttrs {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// rootValues are the attributes of the root DSE.
func (s *Server) rootValues(attr string) []string {
	switch attr {
	case "objectclass":
		return classesRoot
	case "namingcontexts":
		return []string{s.tree.base}
	case "supportedldapversion":
		return []string{"3"}
	case "supportedcontrol":
		return []string{oidPagedResults}
	case "supportedextension":
		if s.cfg.TLS != nil {
			return []string{oidStartTLS, oidWhoAmI}
		}
		return []string{oidWhoAmI}
	case "supportedfeatures":
		return []string{oidAllOperational}
	case "vendorname":
		return []string{"Gatehouse"}
	}
	return nil
}
