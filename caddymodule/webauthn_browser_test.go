package caddymodule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// localhostCaddyfile is the harness config with every site on
// http://localhost:<port>: WebAuthn needs a relying party ID that is a
// domain (Chrome and the server both refuse an IP address), and localhost
// is a secure context over plain HTTP. Cookies ignore ports, so the
// portal's host-only cookie reaches the apps on the other ports. The
// "vault" app requires a second factor.
func (h *harness) localhostCaddyfile() string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%[1]d
	storage file_system %[2]s/caddy
	auto_https off
	log {
		output file %[2]s/caddy.log
		format json
		level INFO
	}
	gatehouse {
		storage %[3]s
		portal_url http://localhost:%[4]d
	}
}

http://localhost:%[4]d {
	gatehouse_portal
}

http://localhost:%[5]d {
	gatehouse whoami {
		title "Who am I"
	}
	reverse_proxy %[7]s
}

http://localhost:%[6]d {
	gatehouse vault {
		title "Vault"
		require_2fa
	}
	reverse_proxy %[7]s
}
`, h.admin, h.dir, h.storage, h.portal, h.app, h.admins, strings.TrimPrefix(h.upstream.URL, "http://"))
}

// addAuthenticator gives the browser tab a virtual authenticator.
// addCredential is WebAuthn.addCredential without the CMTG fields.
// cdproto's Credential always sends generateCmtgKeyOnNextOperation (no
// omitempty), and Chromium 156 refuses any CMTG field for an authenticator
// without that extension: "CMTG is not supported by this authenticator".
var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      credentialToAdd          `json:"credential"`
}

// credentialToAdd is the part of webauthn.Credential a clone needs.
type credentialToAdd struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId,omitempty"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle,omitempty"`
	SignCount            float64 `json:"signCount"`
}

func credentialOf(c webauthn.Credential) credentialToAdd {
	return credentialToAdd{
		CredentialID: c.CredentialID, IsResidentCredential: c.IsResidentCredential, RpID: c.RpID,
		PrivateKey: c.PrivateKey, UserHandle: c.UserHandle, SignCount: c.SignCount,
	}
}

func addAuthenticator(t *testing.T, ctx context.Context, opts webauthn.VirtualAuthenticatorOptions) webauthn.AuthenticatorID {
	t.Helper()
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &opts})
	if err != nil {
		t.Fatalf("add virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestBrowserWebAuthn drives security keys and passkeys in a real headless
// Chromium with virtual authenticators: a user adds a passkey on the
// profile and signs in with it alone, straight into an app; then adds a
// security key and uses it as the second step after the password to reach
// an app that requires 2FA; a key whose signature counter goes backwards
// (a clone) is refused.
func TestBrowserWebAuthn(t *testing.T) {
	ctx := newBrowser(t)
	h := newHarness(t)
	h.start(h.localhostCaddyfile())
	h.addUser("dana", alicePW, "user")
	shots := os.Getenv("GATEHOUSE_SHOTS")
	portal := func(p string) string { return fmt.Sprintf("http://localhost:%d%s", h.portal, p) }
	app := func(p string) string { return fmt.Sprintf("http://localhost:%d%s", h.app, p) }
	vault := func(p string) string { return fmt.Sprintf("http://localhost:%d%s", h.admins, p) }

	var text, loc string
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		err := chromedp.Do(ctx, steps...)
		if shots != "" {
			if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(shots, "webauthn-"+strings.ReplaceAll(name, " ", "-")+".png"), png, 0o644)
			}
		}
		if err != nil {
			alert, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
				`Array.from(document.querySelectorAll("[role=alert]:not([hidden])")).map(e => e.textContent.trim()).join(" | ")`))
			at, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v (at %s; alerts: %q)", name, err, at, alert)
		}
	}
	page := func(name string, want string) {
		t.Helper()
		var err error
		if text, err = bodyText(ctx); err != nil {
			t.Fatalf("%s: read page: %v", name, err)
		}
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		if !strings.Contains(text, want) {
			t.Fatalf("%s: page %s does not say %q:\n%s", name, loc, want, text)
		}
	}
	// within bounds a wait so that a failure reports instead of hanging
	// until the test's deadline.
	within := func(d time.Duration, a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return a(ctx, tg)
		}
	}
	signOut := func() {
		t.Helper()
		step("sign out", chromedp.Navigate(portal("/logout")), submit(`form[action="/logout"] button`))
	}

	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable webauthn: %v", err)
	}
	platform := addAuthenticator(t, ctx, webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
		Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
		IsUserVerified: true, AutomaticPresenceSimulation: true,
	})

	// 1. Password sign-in, then a passkey on the profile.
	step("password login", chromedp.Navigate(portal("/login")),
		submit("#username", "#username", "dana", "#password", alicePW))
	step("add passkey", chromedp.Navigate(portal("/profile")),
		within(10*time.Second, chromedp.WaitVisible(chromedp.CSS("#add-passkey"))),
		chromedp.SetValue(chromedp.CSS("#new-key-name"), "Laptop passkey"),
		chromedp.Click(chromedp.CSS("#add-passkey")),
		within(20*time.Second, chromedp.WaitVisible(chromedp.CSS("#backup-codes-done"))))
	// The first second factor comes with backup codes, shown once.
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#webauthn-backup-codes li").length`))
	if err != nil || codes != 10 {
		t.Fatalf("backup codes shown: %d %v", codes, err)
	}
	step("backup codes saved", markPage, chromedp.Click(chromedp.CSS("#backup-codes-done")),
		within(10*time.Second, waitNewPage), chromedp.WaitReady(chromedp.CSS("body")))
	page("passkey added", "Laptop passkey")
	if !strings.Contains(text, "Passkey") {
		t.Fatalf("the new key is not marked as a passkey:\n%s", text)
	}
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: platform})
	if err != nil || len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("authenticator credentials: %+v %v", creds, err)
	}
	signOut()

	// 2. Passwordless: the app sends to the login page, the passkey signs in.
	step("open app", chromedp.Navigate(app("/hello")),
		within(10*time.Second, chromedp.WaitVisible(chromedp.CSS("[data-webauthn-passkey]"))))
	page("login page", "Sign in with a passkey")
	step("passkey sign-in", chromedp.Click(chromedp.CSS("[data-webauthn-passkey]")), within(20*time.Second, waitURL(app("/hello"))))
	page("app reached with a passkey", `"Remote-User":["dana"]`)
	// A passkey is both factors: the 2FA app lets the session in.
	step("vault with passkey session", chromedp.Navigate(vault("/")), within(10*time.Second, waitURL(vault("/"))))
	page("vault reached with a passkey", `"Remote-User":["dana"]`)

	// 3. A security key as the second step: a separate authenticator (the
	// platform one holds an excluded credential and would refuse).
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: platform}); err != nil {
		t.Fatal(err)
	}
	yubi := addAuthenticator(t, ctx, webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
		AutomaticPresenceSimulation: true,
	})
	step("add security key", chromedp.Navigate(portal("/profile")),
		within(10*time.Second, chromedp.WaitVisible(chromedp.CSS("#add-security-key"))),
		chromedp.SetValue(chromedp.CSS("#new-key-name"), "YubiKey"),
		markPage, chromedp.Click(chromedp.CSS("#add-security-key")),
		within(20*time.Second, waitNewPage), chromedp.WaitReady(chromedp.CSS("body")))
	page("security key added", "YubiKey")
	signOut()

	step("open vault", chromedp.Navigate(vault("/secret")), within(10*time.Second, chromedp.WaitVisible(chromedp.CSS("#username"))))
	step("password for vault", submit("#username", "#username", "dana", "#password", alicePW),
		within(10*time.Second, chromedp.WaitVisible(chromedp.CSS("[data-webauthn-key]"))))
	page("second step", "Use your security key")
	step("security key", chromedp.Click(chromedp.CSS("[data-webauthn-key]")), within(20*time.Second, waitURL(vault("/secret"))))
	page("vault reached with password + key", `"Remote-User":["dana"]`)

	// 4. A clone: the same key with its counter set back is refused.
	creds, err = chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: yubi})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("security key credentials: %+v %v", creds, err)
	}
	clone := *creds.Credentials[0]
	if clone.SignCount < 1 {
		t.Fatalf("the virtual key did not count: %v", clone.SignCount)
	}
	clone.SignCount = 0
	if _, err := chromedp.Call(ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: yubi, CredentialID: clone.CredentialID}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, addCredential, addCredentialParams{AuthenticatorID: yubi, Credential: credentialOf(clone)}); err != nil {
		t.Fatal(err)
	}
	signOut()
	step("password again", chromedp.Navigate(portal("/login")),
		submit("#username", "#username", "dana", "#password", alicePW),
		within(10*time.Second, chromedp.WaitVisible(chromedp.CSS("[data-webauthn-key]"))))
	step("cloned key", chromedp.Click(chromedp.CSS("[data-webauthn-key]")),
		within(20*time.Second, chromedp.WaitVisible(chromedp.CSS("#webauthn-2fa [role=alert]"))))
	page("cloned key refused", "was not accepted")
	if !strings.HasPrefix(loc, portal("/login/2fa")) {
		t.Errorf("after the cloned key the browser is at %s", loc)
	}
}
