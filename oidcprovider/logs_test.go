package oidcprovider

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestLogHandlerRoutesLowersAndRedacts(t *testing.T) {
	var ours, other bytes.Buffer
	h := LogHandler(func() slog.Handler { return slog.NewTextHandler(&other, &slog.HandlerOptions{Level: slog.LevelDebug}) })
	l := slog.New(h)
	ctx := context.WithValue(context.Background(), logKey{}, slog.New(slog.NewTextHandler(&ours, &slog.HandlerOptions{Level: slog.LevelInfo})))
	tests := []struct {
		name    string
		ctx     context.Context
		level   slog.Level
		attrs   []any
		buf     *bytes.Buffer
		want    []string
		wantNot []string
		dropped bool
	}{
		{"a warning of the library is info", ctx, slog.LevelWarn, []any{"status_code", 400}, &ours,
			[]string{"level=INFO", "oidc provider: m", "status_code=400"}, nil, false},
		{"info of the library is debug, dropped at info", ctx, slog.LevelInfo, nil, &ours, nil, nil, true},
		{"token values are redacted, in groups too", ctx, slog.LevelError,
			[]any{"refresh_token", "rt-secret", slog.Group("req", "code", "c-secret", "code_verifier", "v-secret", "client_secret", "s-secret", "redirect_uri", "https://x/cb?code=c2"), "type", "invalid_grant"}, &ours,
			[]string{"level=ERROR", "type=invalid_grant", "[redacted]"}, []string{"rt-secret", "c-secret", "v-secret", "s-secret", "c2"}, false},
		{"other records go to the fallback unchanged", context.Background(), slog.LevelWarn, []any{"k", "v"}, &other,
			[]string{"level=WARN", "msg=m", "k=v"}, []string{"oidc provider"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ours.Reset()
			other.Reset()
			l.Log(tc.ctx, tc.level, "m", tc.attrs...)
			got := tc.buf.String()
			if tc.dropped {
				if ours.Len()+other.Len() != 0 {
					t.Fatalf("logged %q %q", ours.String(), other.String())
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(ours.String()+other.String(), w) {
					t.Errorf("%q holds %q", got, w)
				}
			}
		})
	}
}
