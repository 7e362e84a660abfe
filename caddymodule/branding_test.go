package caddymodule

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// Branding (issue #20): the product name, accent colour and sign-in
// message are settings, checked and audited; the logo is an uploaded
// image, checked by its content and served from the portal; pages and
// e-mails show them.

// webpLossless1x1 is a whole 1×1 lossless WebP image (Go has no WebP
// encoder).
const webpLossless1x1 = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

// testLogo draws a w×h logo, a white cloud on a rounded accent square
// (smoothed edges), as "png" (transparent corners) or "jpeg".
func testLogo(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fw, fh := float64(w), float64(h)
	disc := func(x, y, cx, cy, r float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
	// shape is 0 outside, 1 on the square, 2 on the cloud.
	shape := func(x, y float64) int {
		r := 0.22 * min(fw, fh)
		cx, cy := min(max(x, r), fw-r), min(max(y, r), fh-r)
		if !disc(x, y, cx, cy, r) {
			return 0
		}
		u, v := x/fw, y/fh
		if disc(u, v, 0.36, 0.58, 0.16) || disc(u, v, 0.55, 0.47, 0.2) || disc(u, v, 0.71, 0.6, 0.13) ||
			(u >= 0.36 && u <= 0.71 && v >= 0.55 && v <= 0.73) {
			return 2
		}
		return 1
	}
	colours := [3][4]float64{{0, 0, 0, 0}, {0x0b, 0x6e, 0x4f, 255}, {0xf2, 0xfb, 0xf7, 255}}
	if format == "jpeg" {
		colours[0] = [4]float64{255, 255, 255, 255}
	}
	const n = 4 // samples a side
	for y := range h {
		for x := range w {
			var sum [4]float64
			for sy := range n {
				for sx := range n {
					c := colours[shape(float64(x)+(float64(sx)+0.5)/n, float64(y)+(float64(sy)+0.5)/n)]
					for i := range 3 {
						sum[i] += c[i] * c[3] / 255
					}
					sum[3] += c[3]
				}
			}
			px := color.RGBA{A: uint8(sum[3] / (n * n))}
			if sum[3] > 0 {
				px.R, px.G, px.B = uint8(sum[0]/(n*n)), uint8(sum[1]/(n*n)), uint8(sum[2]/(n*n))
			}
			img.Set(x, y, px)
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wideLogo is a PNG too wide to be a logo, though small in bytes.
func wideLogo(t *testing.T) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 3000, 4), color.Palette{color.Black})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// putLogo uploads body as the logo with c.
func putLogo(t *testing.T, h *harness, c *http.Client, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	if hdr == nil {
		hdr = map[string]string{"Content-Type": "application/octet-stream", "Accept": "application/json"}
	}
	resp, b := do(t, c, "PUT", h.portalURL("/api/v1/settings/logo"), bytes.NewReader(body), hdr)
	return resp.StatusCode, b
}

// auditHas reports whether the audit log has an event of action by actor.
func auditHas(t *testing.T, h *harness, c *http.Client, action, actor, reason string) bool {
	t.Helper()
	resp, b := do(t, c, "GET", h.portalURL("/api/v1/audit?limit=200&action="+action), nil, jsonAPI)
	var events struct {
		Items []struct{ Actor, Action, Outcome, Reason string }
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &events) != nil {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	for _, ev := range events.Items {
		if ev.Action == action && ev.Actor == actor && ev.Outcome == "success" && strings.Contains(ev.Reason, reason) {
			return true
		}
	}
	return false
}

// TestBrandingSettingsAPI: PATCH /api/v1/settings checks the branding
// fields (400 naming the field, nothing changed), the logo API checks the
// image by its content, only settings.write may change either, and every
// change is audited with its actor.
func TestBrandingSettingsAPI(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("alice", alicePW, "user")
	h.addUser("audrey", alicePW, "auditor")
	olga, alice, audrey := h.client(), h.client(), h.client()
	h.apiLogin(olga, "olga", ownerPW)
	h.apiLogin(alice, "alice", alicePW)
	h.apiLogin(audrey, "audrey", alicePW)

	good := `{"brand_name":"Acme Cloud","brand_accent":"#0B6E4F","sign_in_message":"Staff only.\r\nHelp: <b>it@acme.test</b>"}`
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", good); code != 200 {
		t.Fatalf("set branding: %d %s", code, b)
	}
	var st struct {
		BrandName     string `json:"brand_name"`
		BrandAccent   string `json:"brand_accent"`
		SignInMessage string `json:"sign_in_message"`
	}
	read := func() {
		t.Helper()
		code, b := secAPI(t, h, olga, "GET", "/api/v1/settings", "")
		if code != 200 || json.Unmarshal(b, &st) != nil {
			t.Fatalf("get settings: %d %s", code, b)
		}
	}
	read()
	if st.BrandName != "Acme Cloud" || st.BrandAccent != "#0b6e4f" || st.SignInMessage != "Staff only.\nHelp: <b>it@acme.test</b>" {
		t.Fatalf("stored branding: %+v", st)
	}
	if !auditHas(t, h, olga, "settings.update", "olga", "Acme Cloud") {
		t.Error("no settings.update event by olga naming the new brand")
	}

	t.Run("bad values", func(t *testing.T) {
		for _, tc := range []struct {
			name, body, field, says string
		}{
			{"empty name", `{"brand_name":"  "}`, "brand_name", "required"},
			{"long name", `{"brand_name":"` + strings.Repeat("n", 65) + `"}`, "brand_name", "at most 64"},
			{"name with a line break", `{"brand_name":"Acme\nCloud"}`, "brand_name", "control characters"},
			{"name with a tab", `{"brand_name":"Acme\tCloud"}`, "brand_name", "control characters"},
			{"colour word", `{"brand_accent":"red"}`, "brand_accent", "#rrggbb"},
			{"short colour", `{"brand_accent":"#0b6"}`, "brand_accent", "#rrggbb"},
			{"not hex", `{"brand_accent":"#0b6e4g"}`, "brand_accent", "#rrggbb"},
			{"css injection", `{"brand_accent":"#000000;}body{display:none"}`, "brand_accent", "#rrggbb"},
			{"too light: yellow", `{"brand_accent":"#ffd400"}`, "brand_accent", "too light"},
			{"too light: white", `{"brand_accent":"#ffffff"}`, "brand_accent", "too light"},
			{"too light: mid grey", `{"brand_accent":"#808080"}`, "brand_accent", "too light"},
			{"long message", `{"sign_in_message":"` + strings.Repeat("m", 501) + `"}`, "sign_in_message", "at most 500"},
			{"message with a bell", `{"sign_in_message":"ring\u0007"}`, "sign_in_message", "plain text"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", tc.body)
				var e struct{ Error, Field string }
				_ = json.Unmarshal(b, &e)
				if code != 400 || e.Field != tc.field || !strings.Contains(e.Error, tc.says) {
					t.Errorf("%s: %d %s, want 400 about %s saying %q", tc.body, code, b, tc.field, tc.says)
				}
			})
		}
		read()
		if st.BrandName != "Acme Cloud" || st.BrandAccent != "#0b6e4f" {
			t.Errorf("a refused change changed the branding: %+v", st)
		}
		// The darkest colour that still passes: #767676 is 4.54:1.
		if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_accent":"#767676"}`); code != 200 {
			t.Errorf("#767676 (4.54:1): %d %s", code, b)
		}
		if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_accent":"#0b6e4f","brand_name":"`+strings.Repeat("é", 64)+`"}`); code != 200 {
			t.Errorf("a name of 64 accented letters: %d %s", code, b)
		}
		if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_name":"Acme Cloud"}`); code != 200 {
			t.Fatalf("restore the name: %d %s", code, b)
		}
	})

	pngLogo := testLogo(t, "png", 160, 48)
	t.Run("logo", func(t *testing.T) {
		webpLogo, _ := base64.StdEncoding.DecodeString(webpLossless1x1)
		if _, err := webp.DecodeConfig(bytes.NewReader(webpLogo)); err != nil {
			t.Fatalf("the WebP fixture is broken: %v", err)
		}
		bigPNG := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 300<<10)...)
		for _, tc := range []struct {
			name   string
			body   []byte
			status int
			says   string
		}{
			{"empty", nil, 400, "empty"},
			{"too many bytes", bigPNG, 400, "too large"},
			{"far too many bytes", make([]byte, 600<<10), 413, "larger than"},
			{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 400, "PNG, JPEG or WebP"},
			{"HTML", []byte(`<!doctype html><html><script>alert(document.cookie)</script></html>`), 400, "PNG, JPEG or WebP"},
			{"GIF", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 400, "PNG, JPEG or WebP"},
			{"truncated PNG", pngLogo[:len(pngLogo)/2], 400, "not a whole image/png"},
			{"PNG header then HTML", append([]byte("\x89PNG\r\n\x1a\n"), "<script>alert(1)</script>"...), 400, "image/png"},
			{"truncated JPEG", testLogo(t, "jpeg", 64, 64)[:200], 400, "image/jpeg"},
			{"3000 pixels wide", wideLogo(t), 400, "3000×4 pixels"},
			{"WebP header only", []byte("RIFF\x10\x00\x00\x00WEBPVP8 "), 400, "image/webp"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, b := putLogo(t, h, olga, tc.body, nil)
				var e struct{ Error, Field string }
				_ = json.Unmarshal(b, &e)
				if code != tc.status || !strings.Contains(e.Error, tc.says) || (code == 400 && e.Field != "logo") {
					t.Errorf("%d %s, want %d saying %q (field logo)", code, b, tc.status, tc.says)
				}
			})
		}
		if code, _ := secAPI(t, h, olga, "GET", "/api/v1/settings/logo", ""); code != 404 {
			t.Errorf("a refused logo was kept: GET logo %d", code)
		}
		for _, tc := range []struct {
			name, contentType string
			body              []byte
			w, h              int
		}{
			{"JPEG", "image/jpeg", testLogo(t, "jpeg", 64, 64), 64, 64},
			{"WebP", "image/webp", webpLogo, 1, 1},
			{"PNG", "image/png", pngLogo, 160, 48}, // last: the logo the pages show below
		} {
			code, b := putLogo(t, h, olga, tc.body, map[string]string{"Content-Type": "text/plain", "Accept": "application/json"})
			var full map[string]any
			_ = json.Unmarshal(b, &full)
			if code != 200 || full["content_type"] != tc.contentType || int(full["width"].(float64)) != tc.w || int(full["height"].(float64)) != tc.h {
				t.Fatalf("%s logo: %d %s", tc.name, code, b)
			}
			url, _ := full["url"].(string)
			resp, img := do(t, h.client(), "GET", h.portalURL(url), nil, nil)
			if resp.StatusCode != 200 || !bytes.Equal(img, tc.body) || resp.Header.Get("Content-Type") != tc.contentType ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=31536000") {
				t.Errorf("%s: GET %s: %d %v (%d bytes)", tc.name, url, resp.StatusCode, resp.Header, len(img))
			}
		}
		if !auditHas(t, h, olga, "settings.logo.upload", "olga", "image/png, 160×48 pixels") {
			t.Error("no settings.logo.upload event by olga")
		}
		// An old version is served (the current image) but not kept.
		resp, _ := do(t, h.client(), "GET", h.portalURL("/assets/brand/logo?v=old"), nil, nil)
		if resp.StatusCode != 200 || strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("old version: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("who may change it", func(t *testing.T) {
		for _, c := range []struct {
			name string
			cl   *http.Client
		}{{"a user", alice}, {"an auditor (settings.read only)", audrey}} {
			if code, b := secAPI(t, h, c.cl, "PATCH", "/api/v1/settings", `{"brand_name":"Evil"}`); code != 403 || !strings.Contains(string(b), "settings.write") {
				t.Errorf("%s patches the brand: %d %s", c.name, code, b)
			}
			if code, b := putLogo(t, h, c.cl, testLogo(t, "png", 8, 8), nil); code != 403 {
				t.Errorf("%s uploads a logo: %d %s", c.name, code, b)
			}
			if code, b := secAPI(t, h, c.cl, "DELETE", "/api/v1/settings/logo", ""); code != 403 {
				t.Errorf("%s removes the logo: %d %s", c.name, code, b)
			}
		}
		if code, _ := secAPI(t, h, audrey, "GET", "/api/v1/settings/logo", ""); code != 200 {
			t.Errorf("an auditor reads the logo's description: %d", code)
		}
		// API keys: a read-only key of the owner may not change anything,
		// a full one may.
		mk := func(body string) string {
			code, b := secAPI(t, h, olga, "POST", "/api/v1/keys", body)
			var k struct{ Key string }
			if code != 201 || json.Unmarshal(b, &k) != nil {
				t.Fatalf("create key: %d %s", code, b)
			}
			return k.Key
		}
		ro, full := mk(`{"label":"reader","scope":"read-only"}`), mk(`{"label":"brander"}`)
		bearer := func(key string) map[string]string {
			return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json", "Accept": "application/json"}
		}
		anon := &http.Client{Transport: noKeepAlive}
		if resp, b := do(t, anon, "PATCH", h.portalURL("/api/v1/settings"), strings.NewReader(`{"brand_name":"RO"}`), bearer(ro)); resp.StatusCode != 403 {
			t.Errorf("read-only key patches the brand: %d %s", resp.StatusCode, b)
		}
		if resp, b := do(t, anon, "PUT", h.portalURL("/api/v1/settings/logo"), bytes.NewReader(pngLogo), bearer(ro)); resp.StatusCode != 403 {
			t.Errorf("read-only key uploads a logo: %d %s", resp.StatusCode, b)
		}
		if resp, b := do(t, anon, "PUT", h.portalURL("/api/v1/settings/logo"), bytes.NewReader(pngLogo), bearer(full)); resp.StatusCode != 200 {
			t.Errorf("owner's key uploads a logo: %d %s", resp.StatusCode, b)
		}
		read()
		if st.BrandName != "Acme Cloud" {
			t.Errorf("a refused caller changed the name to %q", st.BrandName)
		}
	})

	t.Run("pages", func(t *testing.T) {
		resp, b := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser)
		page := string(b)
		for _, want := range []string{
			"<title>Sign in · Acme Cloud</title>",
			`<span class="brand-name">Acme Cloud</span>`,
			`src="/assets/brand/logo?v=`,
			`href="/assets/brand.css?v=`,
			"Staff only.\nHelp: &lt;b&gt;it@acme.test&lt;/b&gt;",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the sign-in page lacks %q", want)
			}
		}
		if strings.Contains(page, "style=") || strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe-inline") {
			t.Error("the sign-in page has inline style or a CSP that allows it")
		}
		// The name is text, never markup, wherever it is shown.
		if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_name":"Acme <i>&</i> Co"}`); code != 200 {
			t.Fatalf("a name with markup: %d %s", code, b)
		}
		_, raw := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser)
		if !strings.Contains(string(raw), "<title>Sign in · Acme &lt;i&gt;&amp;&lt;/i&gt; Co</title>") || strings.Contains(string(raw), "<i>&</i>") {
			t.Error("the name's markup reached the page unescaped")
		}
		if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_name":"Acme Cloud"}`); code != 200 {
			t.Fatalf("restore the name: %d %s", code, b)
		}
		i := strings.Index(page, `href="/assets/brand.css?v=`)
		cssURL := page[i+6 : i+6+strings.Index(page[i+6:], `"`)]
		resp, css := do(t, h.client(), "GET", h.portalURL(cssURL), nil, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
			!strings.Contains(string(css), "--accent: #0b6e4f;") || !strings.Contains(string(css), "prefers-color-scheme: dark") ||
			!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d %v\n%s", cssURL, resp.StatusCode, resp.Header, css)
		}
	})

	t.Run("remove the logo", func(t *testing.T) {
		if code, b := secAPI(t, h, olga, "DELETE", "/api/v1/settings/logo", ""); code != 204 {
			t.Fatalf("remove: %d %s", code, b)
		}
		resp, _ := do(t, h.client(), "GET", h.portalURL("/assets/brand/logo"), nil, nil)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "/assets/logo.svg" {
			t.Errorf("without a logo: %d %v", resp.StatusCode, resp.Header)
		}
		_, b := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser)
		if !strings.Contains(string(b), `src="/assets/logo.svg"`) {
			t.Error("the sign-in page does not show the built-in logo again")
		}
		if !auditHas(t, h, olga, "settings.logo.remove", "olga", "built-in") {
			t.Error("no settings.logo.remove event by olga")
		}
	})
}

// TestBrandingMail: the e-mails name the product as the settings say, in
// the subject and the signature.
func TestBrandingMail(t *testing.T) {
	h := newHarness(t)
	smtp := h.startWithMail()
	in := &inbox{t: t, smtp: smtp, used: map[int]bool{}}
	h.addUser("olga", ownerPW, "owner")
	h.addUser("bea", beaPW, "user")
	olga, bea := h.client(), h.client()
	h.apiLogin(olga, "olga", ownerPW)
	h.apiLogin(bea, "bea", beaPW)
	if code, b := secAPI(t, h, olga, "PATCH", "/api/v1/settings", `{"brand_name":"Acme Cloud"}`); code != 200 {
		t.Fatalf("set the name: %d %s", code, b)
	}

	// Authenticator apps name the product as the issuer.
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/totp", ""); code != 200 || !strings.Contains(string(b), "issuer=Acme%20Cloud") {
		t.Errorf("TOTP enrolment: %d %s, want the issuer Acme Cloud", code, b)
	}

	if code, b := secAPI(t, h, olga, "POST", "/api/v1/settings/test-email", `{"to":"ops@example.com"}`); code != 204 {
		t.Fatalf("test mail: %d %s", code, b)
	}
	m := in.expect("ops@example.com", "Acme Cloud test email")
	if !strings.Contains(m.Text, "from Acme Cloud at") || !strings.Contains(m.Text, "-- \nAcme Cloud\n") {
		t.Errorf("test mail body:\n%s", m.Text)
	}

	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/password", `{"current_password":"`+beaPW+`","password":"Another-passw0rd"}`); code != 200 && code != 204 {
		t.Fatalf("change password: %d %s", code, b)
	}
	m = in.expect("bea@example.com", "[Acme Cloud] Your password was changed")
	if !strings.Contains(m.Text, "-- \nAcme Cloud\n"+h.portalURL("")) {
		t.Errorf("notice without the signature:\n%s", m.Text)
	}

	if code, b := secAPI(t, h, olga, "POST", "/api/v1/invitations", `{"email":"carol@example.com"}`); code != 201 {
		t.Fatalf("invite: %d %s", code, b)
	}
	m = in.expect("carol@example.com", "You are invited to Acme Cloud")
	if !strings.Contains(m.Text, "invited you to sign in with Acme Cloud") || strings.Contains(m.Subject+m.Text, "Gatehouse") {
		t.Errorf("invitation: %q\n%s", m.Subject, m.Text)
	}

	if code, b := secAPI(t, h, olga, "POST", "/api/v1/users/bea/reset-link", ""); code != 200 && code != 201 {
		t.Fatalf("reset link: %d %s", code, b)
	}
	m = in.expect("bea@example.com", "Reset your Acme Cloud password")
	if strings.Contains(m.Subject+m.Text, "Gatehouse") {
		t.Errorf("reset mail still says Gatehouse: %q\n%s", m.Subject, m.Text)
	}
}

// TestBrandingSettingsPage: the settings page's Branding card works
// without JavaScript: a form for the name, colour and message (a refused
// value is shown with the field named and nothing changed), a multipart
// upload of the logo and its removal, each with the CSRF token; a user
// without settings.write is refused.
func TestBrandingSettingsPage(t *testing.T) {
	h := newHarness(t)
	h.start(h.caddyfile("", ""))
	h.addUser("olga", ownerPW, "owner")
	h.addUser("audrey", alicePW, "auditor")
	olga, audrey := h.client(), h.client()
	h.apiLogin(olga, "olga", ownerPW)
	h.apiLogin(audrey, "audrey", alicePW)
	csrf := func(c *http.Client) (string, string) {
		t.Helper()
		resp, b := do(t, c, "GET", h.portalURL("/admin/settings"), nil, browser)
		m := csrfInPage.FindStringSubmatch(string(b))
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("settings page: %d", resp.StatusCode)
		}
		return m[1], string(b)
	}
	token, page := csrf(olga)
	for _, want := range []string{`id="branding"`, `action="/admin/settings/branding"`, `enctype="multipart/form-data"`, `value="Gatehouse"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the settings page lacks %q", want)
		}
	}

	rd, hdr := formBody("csrf", token, "brand_name", "Acme Cloud", "brand_accent", "#ffd400", "sign_in_message", "Hello")
	resp, b := do(t, olga, "POST", h.portalURL("/admin/settings/branding"), rd, hdr)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "The accent colour is too light") ||
		!strings.Contains(string(b), `id="brand_accent" name="brand_accent"`) || !strings.Contains(string(b), `value="#ffd400" aria-describedby="brand_accent-hint" aria-invalid="true"`) {
		t.Errorf("too light a colour: %d\n%s", resp.StatusCode, b)
	}
	if _, b := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser); strings.Contains(string(b), "Acme Cloud") {
		t.Error("a refused form changed the name")
	}
	rd, hdr = formBody("csrf", token, "brand_name", "Acme Cloud", "brand_accent", "#0b6e4f", "sign_in_message", "Hello\r\nthere")
	if resp, b := do(t, olga, "POST", h.portalURL("/admin/settings/branding"), rd, hdr); resp.StatusCode != 303 {
		t.Fatalf("save branding: %d %s", resp.StatusCode, b)
	}
	if _, b := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser); !strings.Contains(string(b), "Hello\nthere") {
		t.Error("the sign-in page lacks the message")
	}

	upload := func(c *http.Client, token string, data []byte) (*http.Response, []byte) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("csrf", token)
		fw, _ := mw.CreateFormFile("logo", "logo.png")
		_, _ = fw.Write(data)
		_ = mw.Close()
		return do(t, c, "POST", h.portalURL("/admin/settings/logo"), &body,
			map[string]string{"Content-Type": mw.FormDataContentType(), "Accept": "text/html"})
	}
	if resp, b := upload(olga, token, []byte("<svg/>")); resp.StatusCode != 400 || !strings.Contains(string(b), "PNG, JPEG or WebP") {
		t.Errorf("SVG through the form: %d", resp.StatusCode)
	}
	if resp, b := upload(olga, "wrong", testLogo(t, "png", 32, 32)); resp.StatusCode != 403 {
		t.Errorf("upload without the CSRF token: %d %s", resp.StatusCode, b)
	}
	if resp, b := upload(olga, token, testLogo(t, "png", 32, 32)); resp.StatusCode != 303 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	_, page = csrf(olga)
	if !strings.Contains(page, `src="/assets/brand/logo?v=`) || !strings.Contains(page, `action="/admin/settings/logo/remove"`) {
		t.Error("the settings page does not show the uploaded logo and its Remove button")
	}

	atok, _ := csrf(audrey)
	if resp, _ := upload(audrey, atok, testLogo(t, "png", 32, 32)); resp.StatusCode != 403 {
		t.Errorf("an auditor uploads a logo: %d", resp.StatusCode)
	}
	rd, hdr = formBody("csrf", atok, "brand_name", "Evil")
	if resp, _ := do(t, audrey, "POST", h.portalURL("/admin/settings/branding"), rd, hdr); resp.StatusCode != 403 {
		t.Errorf("an auditor posts the branding form: %d", resp.StatusCode)
	}
	rd, hdr = formBody("csrf", atok)
	if resp, _ := do(t, audrey, "POST", h.portalURL("/admin/settings/logo/remove"), rd, hdr); resp.StatusCode != 403 {
		t.Errorf("an auditor removes the logo: %d", resp.StatusCode)
	}

	rd, hdr = formBody("csrf", token)
	if resp, b := do(t, olga, "POST", h.portalURL("/admin/settings/logo/remove"), rd, hdr); resp.StatusCode != 303 {
		t.Fatalf("remove: %d %s", resp.StatusCode, b)
	}
	if _, b := do(t, h.client(), "GET", h.portalURL("/login"), nil, browser); !strings.Contains(string(b), `src="/assets/logo.svg"`) {
		t.Error("the built-in logo is not back")
	}
	if !auditHas(t, h, olga, "settings.logo.upload", "olga", "32×32") || !auditHas(t, h, olga, "settings.logo.remove", "olga", "") {
		t.Error("the page's logo changes are not in the audit log under olga")
	}
}
