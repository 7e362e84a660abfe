package oidcprovider

import (
	"context"
	"log/slog"
	"strings"
)

// The provider library (zitadel/oidc) logs through slog's default logger,
// with the request's context. LogHandler, made slog's default handler once
// by the host (caddymodule), sends the records logged under a provider's
// request to that provider's logger (Config.Logger) and every other record
// to the fallback. The library's levels are lowered one step, as what it
// calls a warning is a client's mistake (an invalid code, a stale refresh
// token) and what it calls info is routine; values of attributes whose
// names speak of tokens, codes, secrets or verifiers are redacted.

// logKey carries the provider's logger in a request's context.
type logKey struct{}

// LogHandler returns the handler for slog's default logger; fallback
// returns the handler of records that do not come from a provider's
// request (called per record: the host's logger may change on reload).
func LogHandler(fallback func() slog.Handler) slog.Handler {
	return &routeHandler{fallback: fallback}
}

type routeHandler struct {
	fallback func() slog.Handler
	attrs    []slog.Attr
	groups   []string
}

func providerLogger(ctx context.Context) *slog.Logger {
	if ctx == nil {
		return nil
	}
	l, _ := ctx.Value(logKey{}).(*slog.Logger)
	return l
}

// lower maps the library's level to ours.
func lower(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return slog.LevelError
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

func (h *routeHandler) target(ctx context.Context) (slog.Handler, bool) {
	if l := providerLogger(ctx); l != nil {
		return l.Handler(), true
	}
	return h.fallback(), false
}

func (h *routeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	t, ours := h.target(ctx)
	if ours {
		l = lower(l)
	}
	return t.Enabled(ctx, l)
}

func (h *routeHandler) Handle(ctx context.Context, r slog.Record) error {
	t, ours := h.target(ctx)
	if !ours {
		return h.with(t).Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, lower(r.Level), "oidc provider: "+r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	for i := range h.attrs {
		out.AddAttrs(redact(h.attrs[i]))
	}
	return t.Handle(ctx, out)
}

// with applies the attributes and groups the library added (it adds
// none today) to a fallback handler.
func (h *routeHandler) with(t slog.Handler) slog.Handler {
	for _, g := range h.groups {
		t = t.WithGroup(g)
	}
	if len(h.attrs) > 0 {
		t = t.WithAttrs(h.attrs)
	}
	return t
}

func (h *routeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *routeHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.groups = append(append([]string{}, h.groups...), name)
	return &c
}

// sensitive reports whether an attribute's name speaks of a credential.
func sensitive(key string) bool {
	k := strings.ToLower(key)
	if k == "status_code" {
		return false
	}
	for _, w := range []string{"token", "code", "secret", "verifier", "assertion", "password", "authorization", "cookie", "url", "uri"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// redact replaces the values of sensitive attributes, in groups too, and
// resolves LogValuers first (the library logs its errors as groups).
func redact(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if sensitive(a.Key) {
		return slog.String(a.Key, "[redacted]")
	}
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i := range g {
			out[i] = redact(g[i])
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	return a
}
