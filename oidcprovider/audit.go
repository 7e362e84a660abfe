package oidcprovider

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/gatehouse-auth/gatehouse/core"
)

// Refusals at the token endpoint. The library checks some things itself
// (the PKCE verifier, the code's client and redirect URI) and answers an
// error without a word to the storage, so ServeHTTP keeps the token
// response and audits any refusal not already audited, with the client
// and user the storage learnt of while serving it.

// tokenNote is what one token request has learnt; it travels in the
// request's context.
type tokenNote struct {
	mu               sync.Mutex
	clientID, userID string
	audited          bool
}

type noteKey struct{}

func noteOf(ctx context.Context) *tokenNote {
	n, _ := ctx.Value(noteKey{}).(*tokenNote)
	return n
}

// note records the client and (when known) the user of ctx's request.
func note(ctx context.Context, clientID, userID string) {
	if n := noteOf(ctx); n != nil {
		n.mu.Lock()
		if clientID != "" {
			n.clientID = clientID
		}
		if userID != "" {
			n.userID = userID
		}
		n.mu.Unlock()
	}
}

// noted marks ctx's request as audited.
func noted(ctx context.Context) {
	if n := noteOf(ctx); n != nil {
		n.mu.Lock()
		n.audited = true
		n.mu.Unlock()
	}
}

// serveToken serves the token endpoint, auditing a refusal the storage did
// not audit (oidc.refused with the library's error and description).
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	n := &tokenNote{}
	if id, _, ok := r.BasicAuth(); ok {
		n.clientID = id
	} else {
		n.clientID = r.PostForm.Get("client_id")
	}
	r = r.WithContext(context.WithValue(r.Context(), noteKey{}, n))
	rec := &bufferWriter{header: w.Header()}
	p.handler.ServeHTTP(rec, r)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	n.mu.Lock()
	audited, clientID, userID := n.audited, n.clientID, n.userID
	n.mu.Unlock()
	if status >= 400 && !audited {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		reason := "token request refused: " + e.Error
		if e.Description != "" {
			reason += " (" + e.Description + ")"
		}
		if _, _, err := p.core.Access.OIDCClient(clientID); err != nil {
			clientID = ""
		}
		p.refuse(r.Context(), clientID, userID, core.Truncate(reason, 200))
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(rec.body.Bytes())
}
