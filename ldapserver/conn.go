package ldapserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// conn is one client connection. Its requests are served one at a time,
// in order: LDAP allows more, but no client needs it, and one at a time
// bounds what a connection can make the server hold.
type conn struct {
	s  *Server
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	ip string
	// tls is set once the connection is encrypted (LDAPS or StartTLS).
	tls bool

	bound binding
	// scopeApp is the app of the first app-scoped client that bound on
	// this connection: it stays, so a user bind after it (apps that check
	// a password on the connection they searched with) is held to that
	// app's access rules too.
	scopeApp string
	// entries encodes the search result entries sent on this connection.
	entries entryWriter
}

// binding is who a connection is bound as: nobody (anonymous), a bind
// client, or a user.
type binding struct {
	client *store.LDAPClient
	userID string
	dn     string
}

func (b binding) anonymous() bool { return b.client == nil && b.userID == "" }

func newConn(s *Server, nc net.Conn, ip string) *conn {
	return &conn{s: s, nc: nc, ip: ip, r: bufio.NewReaderSize(nc, 4096), w: bufio.NewWriterSize(nc, 32<<10)}
}

// startTLS swaps the connection for tc (its handshake happens at the
// first read, under the message deadline).
func (c *conn) startTLS(tc *tls.Conn) {
	c.nc, c.tls = tc, true
	c.r.Reset(tc)
	c.w.Reset(tc)
}

func (c *conn) close() { c.nc.Close() }

// handshake completes a TLS handshake under the message deadline, so a
// client that never finishes one cannot hold the connection for long.
func (c *conn) handshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	_ = tc.SetDeadline(time.Now().Add(messageTimeout))
	if err := tc.Handshake(); err != nil {
		c.s.log.Debug("ldap TLS handshake failed", "ip", c.ip, "error", err)
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	return true
}

// actor is the core's actor of one operation on c.
func (c *conn) actor() *core.Actor { return &core.Actor{Via: core.ViaLDAP, IP: c.ip} }

// serve reads and answers requests until the client unbinds, goes quiet
// past the idle timeout, or sends something malformed.
func (c *conn) serve() {
	if !c.handshake() {
		return
	}
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		p, err := readMessage(c.r, func() { _ = c.nc.SetReadDeadline(time.Now().Add(messageTimeout)) })
		if err != nil {
			if errors.Is(err, errTooBig) || errors.Is(err, errMalformed) {
				c.disconnect("malformed or oversized message")
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Debug("ldap connection closed", "ip", c.ip, "reason", err.Error())
			}
			return
		}
		req, err := parseRequest(p)
		if err != nil {
			c.disconnect("malformed message")
			return
		}
		if !c.handle(req) {
			return
		}
	}
}

// disconnect sends the Notice of Disconnection (RFC 4511, 4.4.1) before
// the connection closes.
func (c *conn) disconnect(why string) {
	c.send(0, extendedResult(resultProtocolError, why, oidNoticeOfDiscon, nil))
	c.flush()
}

// send queues one response message.
func (c *conn) send(id int64, op *ber.Packet, controls ...*ber.Packet) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, _ = c.w.Write(envelope(id, op, controls...).Bytes())
}

// sendRaw queues a message already encoded (see entryWriter).
func (c *conn) sendRaw(msg []byte) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, _ = c.w.Write(msg)
}

// flush writes what send queued; false when the client is gone.
func (c *conn) flush() bool { return c.w.Flush() == nil }

// handle answers one request; false closes the connection.
func (c *conn) handle(req *request) bool {
	tag := int(req.op.Tag)
	// A critical control the operation does not know fails it (RFC 4511,
	// 4.1.11); only search knows one (paged results).
	if rt, ok := responseTag[req.op.Tag]; ok {
		for _, ctl := range req.controls {
			if ctl.critical && !(tag == appSearchRequest && ctl.oid == oidPagedResults) {
				c.send(req.id, result(rt, resultUnavailableCritical, "", "unsupported critical control "+ctl.oid))
				return c.flush()
			}
		}
	}
	switch tag {
	case appBindRequest:
		c.bind(req)
	case appUnbindRequest:
		return false
	case appSearchRequest:
		c.search(req)
	case appExtendedRequest:
		return c.extended(req)
	case appAbandonRequest:
		return true // requests are served in order: nothing is pending
	case appModifyRequest, appAddRequest, appDelRequest, appModDNRequest, appCompareRequest:
		c.send(req.id, result(responseTag[req.op.Tag], resultUnwillingToPerform, "",
			"the directory is read-only: change users and groups in the portal"))
	default:
		c.disconnect("unknown operation")
		return false
	}
	return c.flush()
}

// extended answers an extended operation; false closes the connection.
func (c *conn) extended(req *request) bool {
	var name string
	var hasValue bool
	for _, p := range req.op.Children {
		if p.ClassType != ber.ClassContext {
			continue
		}
		switch p.Tag {
		case 0:
			name, _ = octets(p)
		case 1:
			hasValue = true
		}
	}
	switch name {
	case oidWhoAmI:
		v := ""
		if !c.bound.anonymous() && c.live() {
			v = "dn:" + c.bound.dn
		}
		c.send(req.id, extendedResult(resultSuccess, "", "", &v))
	case oidStartTLS:
		switch {
		case hasValue:
			c.send(req.id, extendedResult(resultProtocolError, "StartTLS takes no value", oidStartTLS, nil))
		case c.s.cfg.TLS == nil:
			c.send(req.id, extendedResult(resultUnavailable, "TLS is not configured", oidStartTLS, nil))
		case c.tls:
			c.send(req.id, extendedResult(resultOperationsError, "TLS is already established", oidStartTLS, nil))
		default:
			c.send(req.id, extendedResult(resultSuccess, "", oidStartTLS, nil))
			if !c.flush() {
				return false
			}
			if c.r.Buffered() > 0 { // the client did not wait for the answer
				return false
			}
			c.startTLS(tls.Server(c.nc, c.s.cfg.TLS))
			return c.handshake()
		}
	case oidPasswordModify:
		c.send(req.id, extendedResult(resultUnwillingToPerform, "change passwords in the portal", "", nil))
	default:
		c.send(req.id, extendedResult(resultProtocolError, "unsupported extended operation", "", nil))
	}
	return c.flush()
}
