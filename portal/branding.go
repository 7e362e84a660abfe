package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// Branding on the pages: templates call brand (bound by bindPages) for the
// product name, the logo's URL, the accent stylesheet's URL and the
// sign-in message. The accent colour reaches the pages as a generated
// stylesheet, /assets/brand.css, that sets gatehouse.css's custom
// properties: no inline style, so the CSP stays style-src 'self' (and on
// app hosts, the portal's origin). The logo is served from the store at
// /assets/brand/logo. Both URLs carry a version, so they may be cached for
// long.

// Paths of the brand assets.
const (
	brandCSSPath  = "/assets/brand.css"
	brandLogoPath = "/assets/brand/logo"
	// defaultLogoPath is the built-in logo, shown until one is uploaded.
	defaultLogoPath = "/assets/logo.svg"
	// immutableCache is the Cache-Control of a versioned asset.
	immutableCache = "public, max-age=31536000, immutable"
)

// brandView is what the templates show of the branding.
type brandView struct {
	// Name is the product name.
	Name string
	// LogoURL is the logo's path on the portal (with its version).
	LogoURL string
	// CustomLogo is set when an uploaded logo replaces the built-in one.
	CustomLogo bool
	// CSSURL is the accent stylesheet's path, "" with the default colours.
	CSSURL string
	// Accent is the accent colour, "" for the default.
	Accent string
	// SignInMessage is the sign-in page's message, "" for none.
	SignInMessage string

	logoW, logoH int
}

// LogoWidth is the width at which the logo is shown height pixels high.
func (b brandView) LogoWidth(height int) int {
	if !b.CustomLogo || b.logoH == 0 {
		return height
	}
	w := (b.logoW*height + b.logoH/2) / b.logoH
	return max(1, min(w, 6*height))
}

// brandView is the branding in force.
func (s brandingAPI) brandView() brandView {
	st := s.core.Settings()
	b := brandView{Name: s.core.BrandName(), LogoURL: defaultLogoPath, Accent: st.BrandAccent, SignInMessage: st.SignInMessage}
	if l := s.core.BrandLogo(); l != nil {
		b.LogoURL, b.CustomLogo, b.logoW, b.logoH = brandLogoPath+"?v="+l.Version, true, l.Width, l.Height
	}
	if b.Accent != "" {
		b.CSSURL = brandCSSPath + "?v=" + brandCSSVersion(b.Accent)
	}
	return b
}

// brandCSSVersion names the stylesheet of accent (and of the way it is
// generated: bump the prefix when brandCSS changes).
func brandCSSVersion(accent string) string {
	sum := sha256.Sum256([]byte("brand-css-1:" + accent))
	return hex.EncodeToString(sum[:6])
}

// serveBrandCSS serves the accent stylesheet (empty with the default
// colours).
func (s brandingAPI) serveBrandCSS(w http.ResponseWriter, r *http.Request) {
	accent := s.core.Settings().BrandAccent
	css := "/* The default colours of gatehouse.css are in force. */\n"
	if rgb, ok := core.ParseHexColor(accent); ok {
		css = brandCSS(rgb)
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	versioned(h, r.URL.Query().Get("v"), brandCSSVersion(accent))
	_, _ = w.Write([]byte(css))
}

// serveBrandLogo serves the uploaded logo; without one, it sends the
// browser to the built-in logo.
func (s brandingAPI) serveBrandLogo(w http.ResponseWriter, r *http.Request) {
	l := s.core.BrandLogo()
	if l == nil {
		http.Redirect(w, r, defaultLogoPath, http.StatusFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", l.ContentType)
	h.Set("Content-Disposition", "inline")
	versioned(h, r.URL.Query().Get("v"), l.Version)
	_, _ = w.Write(l.Data)
}

// versioned lets browsers keep an answer whose URL names (asked) the
// current version; an old or missing version gets the current content,
// not kept. X-Content-Type-Options: nosniff is already set by secure.
func versioned(h http.Header, asked, version string) {
	h.Set("ETag", `"`+version+`"`)
	if asked == version {
		h.Set("Cache-Control", immutableCache)
		return
	}
	h.Set("Cache-Control", "no-cache")
}

// brandCSS sets gatehouse.css's accent properties from accent: as given in
// the light scheme (white text on it: the settings ensure 4.5:1), and in
// the dark scheme the same hue made lighter, as light as it must be for
// dark text on it at 7:1 (as the built-in dark accent).
func brandCSS(accent [3]uint8) string {
	black := [3]uint8{0, 0, 0}
	darkText := [3]uint8{0x0c, 0x0e, 0x1a}
	darkSurface := [3]uint8{0x15, 0x18, 0x26}
	soft := mix(accent, [3]uint8{255, 255, 255}, 0.90)
	softText := tintFor(accent, soft, 7, func(c [3]uint8, t float64) [3]uint8 { return mix(c, black, t) })
	dark := tintFor(accent, darkText, 7, lighten)
	darkHover := lighten(dark, 0.25)
	darkSoftText := tintFor(accent, darkSurface, 9, lighten)
	var b strings.Builder
	b.WriteString("/* Generated from the brand accent colour (settings: brand_accent). */\n")
	fmt.Fprintf(&b, ":root {\n  --accent: %s;\n  --accent-hover: %s;\n  --accent-text: #ffffff;\n  --accent-soft: %s;\n  --accent-soft-text: %s;\n",
		hexOf(accent), hexOf(mix(accent, black, 0.18)), hexOf(soft), hexOf(softText))
	fmt.Fprintf(&b, "  --link: %s;\n  --focus: %s;\n  --focus-halo: %s;\n  --bg-accent: %s;\n}\n",
		hexOf(accent), hexOf(accent), rgba(accent, 0.28), rgba(accent, 0.10))
	fmt.Fprintf(&b, "@media (prefers-color-scheme: dark) {\n  :root {\n    --accent: %s;\n    --accent-hover: %s;\n    --accent-text: %s;\n",
		hexOf(dark), hexOf(darkHover), hexOf(darkText))
	fmt.Fprintf(&b, "    --accent-soft: %s;\n    --accent-soft-text: %s;\n    --link: %s;\n    --focus: %s;\n    --focus-halo: %s;\n    --bg-accent: %s;\n  }\n}\n",
		rgba(dark, 0.16), hexOf(darkSoftText), hexOf(darkHover), hexOf(darkHover), rgba(darkHover, 0.30), rgba(dark, 0.14))
	return b.String()
}

// tintFor changes c in steps with step (0: c itself, 1: as far as it
// goes) until it has at least ratio contrast with against.
func tintFor(c, against [3]uint8, ratio float64, step func([3]uint8, float64) [3]uint8) [3]uint8 {
	for t := 0.0; t <= 1; t += 0.01 {
		if m := step(c, t); core.ContrastRatio(m, against) >= ratio {
			return m
		}
	}
	return step(c, 1)
}

// lighten raises c's HSL lightness t of the way to white, keeping its hue
// and saturation (mixing with white would wash it out).
func lighten(c [3]uint8, t float64) [3]uint8 {
	r, g, b := float64(c[0])/255, float64(c[1])/255, float64(c[2])/255
	hi, lo := max(r, g, b), min(r, g, b)
	l := (hi + lo) / 2
	var h, s float64
	if d := hi - lo; d > 0 {
		if l > 0.5 {
			s = d / (2 - hi - lo)
		} else {
			s = d / (hi + lo)
		}
		switch hi {
		case r:
			h = (g - b) / d
			if g < b {
				h += 6
			}
		case g:
			h = (b-r)/d + 2
		default:
			h = (r-g)/d + 4
		}
		h /= 6
	}
	l += (1 - l) * t
	q := l + s - l*s
	if l < 0.5 {
		q = l * (1 + s)
	}
	p := 2*l - q
	hue := func(x float64) uint8 {
		x -= math.Floor(x)
		var v float64
		switch {
		case x < 1.0/6:
			v = p + (q-p)*6*x
		case x < 0.5:
			v = q
		case x < 2.0/3:
			v = p + (q-p)*(2.0/3-x)*6
		default:
			v = p
		}
		return uint8(v*255 + 0.5)
	}
	return [3]uint8{hue(h + 1.0/3), hue(h), hue(h - 1.0/3)}
}

// mix is a colour t of the way from a to b.
func mix(a, b [3]uint8, t float64) [3]uint8 {
	var out [3]uint8
	for i := range 3 {
		out[i] = uint8(float64(a[i])*(1-t) + float64(b[i])*t + 0.5)
	}
	return out
}

func hexOf(c [3]uint8) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

func rgba(c [3]uint8, alpha float64) string {
	return fmt.Sprintf("rgba(%d, %d, %d, %.2f)", c[0], c[1], c[2], alpha)
}
