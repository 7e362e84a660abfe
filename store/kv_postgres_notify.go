package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Several nodes on one database each keep their caches in memory (the
// session index, the user directory and cache, API keys, app passwords,
// locks; in the core, settings, roles and apps). Each transaction that
// writes a record one of those caches holds tells the other nodes, with
// pg_notify inside the same transaction: PostgreSQL delivers a notice only
// when its transaction commits, in commit order, to every connection that
// LISTENs. The payload is the writer's node id and the changed keys
// (base64), in as many notices of under 8000 bytes as needed; a change too
// big for pgNotifyParts notices (a restore, a bulk import) says "*":
// resync everything. Each node LISTENs on a connection of its own (listen), applies
// what others changed by re-reading those records (Store.applyRemote), and
// ignores its own notices (its writes already went through its caches).
//
// A node that loses that connection cannot know what it missed: it marks
// its caches untrusted at once (the request path then answers 503 on what it
// cannot check), reconnects, LISTENs again, and only then resynchronises
// from the database and trusts its caches again.

// pgChannel is the LISTEN/NOTIFY channel.
const pgChannel = "gatehouse_changes"

// pgNotifyMax bounds a payload (PostgreSQL's limit is 8000 bytes).
const pgNotifyMax = 7900

// pgResyncAll is the payload's key list when it is too long: every cache is
// rebuilt.
const pgResyncAll = "*"

// notified reports whether a change of key must reach the other nodes: the
// records some cache holds. Activity write-back (seen/), audit events,
// tokens and failure counters are read from the database when needed.
func notified(key []byte) bool {
	for _, p := range notifiedPrefixes {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

var notifiedPrefixes = [][]byte{
	[]byte(prefixUser), []byte(prefixSession), []byte(prefixAPIKey), []byte(prefixAppPassword),
	[]byte(prefixLock), []byte(prefixSetting), []byte(prefixApp), []byte(prefixAppDef),
	[]byte(prefixGroup), []byte(prefixRole), []byte(prefixLDAPClient), []byte(prefixSeen),
}

// changeSet collects the notified keys a transaction wrote.
type changeSet struct {
	keys map[string]struct{}
}

// write notes a write of key (val: the value set; del: a deletion). A
// session's activity written back (seen/) goes out with its value, the
// 8 bytes appended to the key, so the other nodes' idle timeouts see it
// without reading it; its deletion goes with the session's.
func (c *changeSet) write(key, val []byte, del bool) {
	if bytes.HasPrefix(key, []byte(prefixSeen)) {
		if !del && len(val) == 8 {
			c.add(append(bytes.Clone(key), val...))
		}
		return
	}
	c.add(key)
}

func (c *changeSet) add(key []byte) {
	if !notified(key) {
		return
	}
	if c.keys == nil {
		c.keys = make(map[string]struct{})
	}
	c.keys[string(key)] = struct{}{}
}

// payloads are the notices for the changes of node: the keys in as many
// notices as they need (each under pgNotifyMax bytes, all delivered on
// commit), or one "*" (resync everything) past pgNotifyParts notices.
func (c *changeSet) payloads(node string) []string {
	var out []string
	var b strings.Builder
	for k := range c.keys {
		enc := base64.RawStdEncoding.EncodeToString([]byte(k))
		if b.Len() > 0 && b.Len()+1+len(enc) > pgNotifyMax {
			out = append(out, b.String())
			b.Reset()
		}
		if len(out) >= pgNotifyParts {
			return []string{node + "|" + pgResyncAll}
		}
		if b.Len() == 0 {
			b.WriteString(node)
			b.WriteByte('|')
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(enc)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// pgNotifyParts bounds the notices of one transaction (about 64 × 130
// session keys); a bigger change (a restore, a bulk import) makes the other
// nodes resynchronise instead.
const pgNotifyParts = 64

// notify sends the notices of the transaction's changes, if any, inside it.
func (p *pgKV) notify(ctx context.Context, tx pgx.Tx, c *changeSet) error {
	if len(c.keys) == 0 {
		return nil
	}
	for _, payload := range c.payloads(p.node) {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", pgChannel, payload); err != nil {
			return err
		}
	}
	return nil
}

// parseNotice splits a payload into the writer's node and its keys (all:
// resync everything).
func parseNotice(payload string) (node string, keys [][]byte, all bool, err error) {
	node, list, ok := strings.Cut(payload, "|")
	if !ok {
		return "", nil, false, errors.New("notice without a node id")
	}
	if list == pgResyncAll {
		return node, nil, true, nil
	}
	for _, f := range strings.Fields(list) {
		k, err := base64.RawStdEncoding.DecodeString(f)
		if err != nil {
			return node, nil, false, err
		}
		keys = append(keys, k)
	}
	return node, keys, false, nil
}

// changeSink is what the listener drives: a Store.
type changeSink interface {
	// applyRemote brings the caches up to date with keys changed by
	// another node.
	applyRemote(keys [][]byte) error
	// untrust marks the caches as not to be trusted (a notice may be
	// missed from now on).
	untrust()
	// resync rebuilds every cache from the database and trusts them
	// again.
	resync() error
}

// Listener timings: how long the connection may stay silent before a ping
// checks it, how long the ping may take, and the reconnection's backoff.
var (
	pgListenIdle   = 5 * time.Second
	pgListenPing   = 3 * time.Second
	pgReconnectMin = 100 * time.Millisecond
	pgReconnectMax = 2 * time.Second
	// pgListenStart bounds Open's wait for the first LISTEN.
	pgListenStart = 30 * time.Second
)

// listen LISTENs on a connection of its own and hands the notices of the
// other nodes to sink until Close. It reconnects after any failure; see the
// package comment above for the fail-closed rule.
func (p *pgKV) listen(sink changeSink) {
	defer close(p.listenDone)
	backoff := pgReconnectMin
	for {
		err := p.listenOnce(sink)
		select {
		case <-p.stop:
			return
		case <-p.quit:
			return
		default:
		}
		if p.listened.Load() {
			// Before the first LISTEN nothing is cached yet (Open
			// waits); after it, a notice may be lost from now on.
			sink.untrust()
		}
		if p.listenUp.Swap(false) {
			backoff = pgReconnectMin // it was up: a new outage
		}
		p.log.Warn("store: lost the change notifications from the other nodes; refusing what the caches cannot check until resynchronised", "storage", p.name, "error", err)
		wait := backoff
		if d := time.Duration(p.reconnectDelay.Load()); d > 0 {
			wait = d
		}
		select {
		case <-p.stop:
			return
		case <-p.quit:
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, pgReconnectMax)
	}
}

// listenOnce connects, LISTENs, resynchronises the caches (after a
// reconnection: the first connection follows Open's own loading) and
// applies notices until the connection fails or the engine closes.
func (p *pgKV) listenOnce(sink changeSink) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-p.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	cfg := p.pool.Config().ConnConfig.Copy()
	// A timed-out wait only sets a deadline on the socket: no cancel
	// request, which could hit the ping that follows.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgChannel); err != nil {
		return err
	}
	if p.listened.Swap(true) {
		if err := sink.resync(); err != nil {
			return err
		}
		p.log.Info("store: change notifications back; caches resynchronised", "storage", p.name)
	}
	p.listenUp.Store(true)
	p.listenPID.Store(conn.PgConn().PID())
	p.readyOnce.Do(func() { close(p.ready) })
	for {
		idle := pgListenIdle
		if d := time.Duration(p.idleOverride.Load()); d > 0 {
			idle = d
		}
		wctx, wcancel := context.WithTimeout(ctx, idle)
		n, err := conn.WaitForNotification(wctx)
		wcancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !pgconn.Timeout(err) {
				return err
			}
			pctx, pcancel := context.WithTimeout(ctx, pgListenPing)
			err = conn.Ping(pctx)
			pcancel()
			if err != nil {
				return err
			}
			continue
		}
		node, keys, all, err := parseNotice(n.Payload)
		if err != nil {
			p.log.Error("store: unreadable change notice; resynchronising", "error", err)
			all = true
		} else if node == p.node {
			continue
		}
		if all {
			if err := sink.resync(); err != nil {
				return err
			}
			continue
		}
		if err := sink.applyRemote(keys); err != nil {
			return err
		}
	}
}

// listenerState is the listener's part of pgKV.
type listenerState struct {
	// node identifies this process in the notices it sends.
	node string
	// listened is set once the first LISTEN succeeded; listenUp while
	// the connection is up; listenPID is its backend's pid (tests).
	listened  atomic.Bool
	listenUp  atomic.Bool
	listenPID atomic.Uint32
	// reconnectDelay, when set, replaces the backoff; idleOverride the
	// silence before a ping (tests).
	reconnectDelay atomic.Int64
	idleOverride   atomic.Int64
	listenDone     chan struct{}
	// quit stops the listener (stopListening).
	quit     chan struct{}
	quitOnce sync.Once
	// ready is closed once the first LISTEN is in place.
	ready     chan struct{}
	readyOnce sync.Once
}

// stopListening stops the listener and waits for it: Store.Close calls it
// before it closes the store, as the listener may be applying a change
// through the store.
func (p *pgKV) stopListening() {
	if p.quit == nil {
		return
	}
	p.quitOnce.Do(func() { close(p.quit) })
	<-p.listenDone
}

// startListening starts the listener and waits until it LISTENs (or
// timeout): what other nodes commit from then on reaches sink.
func (p *pgKV) startListening(sink changeSink, timeout time.Duration) error {
	p.ready, p.listenDone, p.quit = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go p.listen(sink)
	select {
	case <-p.ready:
		return nil
	case <-time.After(timeout):
		return errors.New("postgres: LISTEN for the other nodes' changes: no connection within " + timeout.String())
	}
}
