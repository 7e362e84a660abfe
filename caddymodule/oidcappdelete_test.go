package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// makeApp makes an OIDC app through the API and returns its secret.
func (o *oidcRig) makeApp(root *http.Client, name, redirect string) string {
	o.h.t.Helper()
	resp, b := do(o.h.t, root, "POST", o.h.portalURL("/api/v1/apps"),
		strings.NewReader(`{"name":"`+name+`","allow_groups":["ops"],"oidc":{"redirect_uris":["`+redirect+`"]}}`), jsonAPI)
	var made struct {
		OIDC struct {
			ClientSecret string `json:"client_secret"`
		}
	}
	if err := json.Unmarshal(b, &made); resp.StatusCode != 201 || err != nil || made.OIDC.ClientSecret == "" {
		o.h.t.Fatalf("make app %s: %d %s", name, resp.StatusCode, b)
	}
	return made.OIDC.ClientSecret
}

func TestOIDCAppDeleteRevokesItsTokens(t *testing.T) {
	o := startOIDCLogout(t, "")
	ctx := context.Background()
	root := o.signedIn("carol")
	const cb = "http://127.0.0.1:9/ncb"

	t.Run("a deleted app's tokens die, and stay dead if the name is made again", func(t *testing.T) {
		notes := o.conf("notes", o.makeApp(root, "notes", cb), cb, "offline_access")
		alice := o.signedIn("alice")
		tk, _, _ := o.tokens(alice, notes)
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tk)); err != nil {
			t.Fatalf("userinfo before: %v", err)
		}
		if resp, b := do(t, root, "DELETE", o.h.portalURL("/api/v1/apps/notes"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("delete: %d %s", resp.StatusCode, b)
		}
		if _, err := notes.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("refresh after delete worked")
		}
		again := o.conf("notes", o.makeApp(root, "notes", cb), cb, "offline_access")
		if _, err := again.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("the deleted app's refresh token works for the app made again")
		}
		if _, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tk)); err == nil {
			t.Fatal("the deleted app's access token works for the app made again")
		}
		_, _, _ = o.tokens(alice, again) // the app made again works for new sign-ins
	})

	t.Run("a deleted user's refresh tokens die", func(t *testing.T) {
		o.h.addUser("dave", "Correct horse battery 9", "user", "ops")
		grafana := o.conf("grafana", rpSecret, rpRedirect, "offline_access")
		tk, _, _ := o.tokens(o.signedIn("dave"), grafana)
		if resp, b := do(t, root, "DELETE", o.h.portalURL("/api/v1/users/dave"), nil, jsonAPI); resp.StatusCode >= 300 {
			t.Fatalf("delete dave: %d %s", resp.StatusCode, b)
		}
		o.h.addUser("dave", "Correct horse battery 9", "user", "ops")
		if _, err := grafana.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token(); err == nil {
			t.Fatal("a deleted user's refresh token worked")
		}
	})

	t.Run("the apps list shows when an app last got tokens", func(t *testing.T) {
		lastUsed := func() map[string]string {
			_, b := do(t, root, "GET", o.h.portalURL("/api/v1/apps"), nil, jsonAPI)
			var l struct {
				Items []struct {
					Name       string `json:"name"`
					LastUsedAt string `json:"last_used_at"`
				}
			}
			_ = json.Unmarshal(b, &l)
			out := map[string]string{}
			for _, a := range l.Items {
				out[a.Name] = a.LastUsedAt
			}
			return out
		}
		before := time.Now().Add(-time.Second)
		o.h.addUser("erin", "Correct horse battery 9", "user", "ops")
		o.h.addUser("frank", "Correct horse battery 9", "user")
		_, _, _ = o.tokens(o.signedIn("erin"), o.conf("grafana", rpSecret, rpRedirect))
		got := lastUsed()
		at, err := time.Parse(time.RFC3339Nano, got["grafana"])
		if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Fatalf("grafana last_used_at %q (%v), want about now", got["grafana"], err)
		}
		if _, ok := got["whoami"]; !ok || got["whoami"] != "" {
			t.Fatalf("whoami (never used through OIDC): %v", got)
		}
		// A second issue within the minute shows in the list too (kept in memory).
		time.Sleep(10 * time.Millisecond)
		_, _, _ = o.tokens(o.signedIn("erin"), o.conf("grafana", rpSecret, rpRedirect))
		if again := lastUsed()["grafana"]; again == got["grafana"] {
			t.Fatalf("last use not updated: %s", again)
		}
		_, b := do(t, root, "GET", o.h.portalURL("/admin/apps"), nil, browser)
		if !strings.Contains(string(b), "Last used") {
			t.Fatal("the apps page has no Last used column")
		}
	})
}
