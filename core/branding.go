package core

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Branding: the product name, accent colour and sign-in message are
// settings (Settings.BrandName, BrandAccent, SignInMessage), changed with
// the other settings; the logo is an image of its own (branding_logo.go).
// Pages, the pages the guard serves on app hosts and e-mails show them.

// DefaultBrandName is the product name until an administrator sets one.
const DefaultBrandName = "Gatehouse"

// Limits of the branding settings.
const (
	maxBrandNameRunes      = 64
	maxSignInMessageRunes  = 500
	minAccentContrastWhite = 4.5 // WCAG AA for normal text: white button text on the accent
)

// validateBrand checks the branding fields of st.
func (st *Settings) validateBrand() error {
	n := utf8.RuneCountInString(st.BrandName)
	switch {
	case strings.TrimSpace(st.BrandName) == "":
		return Input("brand_name", "is required")
	case !utf8.ValidString(st.BrandName):
		return Input("brand_name", "must be valid UTF-8 text")
	case n > maxBrandNameRunes:
		return Input("brand_name", "must be at most %d characters", maxBrandNameRunes)
	case strings.IndexFunc(st.BrandName, unicode.IsControl) >= 0:
		return Input("brand_name", "must be one line of text without control characters")
	}
	if st.BrandAccent != "" {
		rgb, ok := ParseHexColor(st.BrandAccent)
		if !ok {
			return Input("brand_accent", "must be a colour written #rrggbb, such as #4f46e5, or empty for the default")
		}
		if c := ContrastRatio(rgb, [3]uint8{255, 255, 255}); c < minAccentContrastWhite {
			return Input("brand_accent", "is too light: white text on %s has a contrast of %.1f:1, and buttons need at least %.1f:1; choose a darker colour",
				st.BrandAccent, math.Floor(c*10)/10, minAccentContrastWhite)
		}
	}
	switch {
	case !utf8.ValidString(st.SignInMessage):
		return Input("sign_in_message", "must be valid UTF-8 text")
	case utf8.RuneCountInString(st.SignInMessage) > maxSignInMessageRunes:
		return Input("sign_in_message", "must be at most %d characters", maxSignInMessageRunes)
	case strings.IndexFunc(st.SignInMessage, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0:
		return Input("sign_in_message", "must be plain text: line breaks are kept, other control characters are not allowed")
	}
	return nil
}

// normalizeBrand tidies the branding fields of a patch before they are
// checked: the name without surrounding spaces, the colour in lower case,
// the message with Unix line breaks and without trailing blank space.
func (st *Settings) normalizeBrand() {
	st.BrandName = strings.TrimSpace(st.BrandName)
	st.BrandAccent = strings.ToLower(strings.TrimSpace(st.BrandAccent))
	msg := strings.ReplaceAll(st.SignInMessage, "\r\n", "\n")
	st.SignInMessage = strings.TrimRightFunc(msg, unicode.IsSpace)
}

// BrandName is the product name in force.
func (c *Core) BrandName() string {
	if n := c.Settings().BrandName; n != "" {
		return n
	}
	return DefaultBrandName
}

// mailSignature ends every e-mail: the product name and the portal's
// address.
func (c *Core) mailSignature() string {
	return "\n-- \n" + c.BrandName() + "\n" + c.portal.String() + "\n"
}

// ParseHexColor reads "#rrggbb" (either case).
func ParseHexColor(s string) ([3]uint8, bool) {
	var rgb [3]uint8
	if len(s) != 7 || s[0] != '#' {
		return rgb, false
	}
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return rgb, false
		}
		rgb[i] = uint8(v)
	}
	return rgb, true
}

// RelativeLuminance is the WCAG 2 relative luminance of an sRGB colour.
func RelativeLuminance(rgb [3]uint8) float64 {
	lin := func(v uint8) float64 {
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(rgb[0]) + 0.7152*lin(rgb[1]) + 0.0722*lin(rgb[2])
}

// ContrastRatio is the WCAG 2 contrast ratio of two colours (1 to 21).
func ContrastRatio(a, b [3]uint8) float64 {
	la, lb := RelativeLuminance(a), RelativeLuminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// brandSubject is an e-mail's subject line with the product name in front,
// so the recipient sees who writes.
func (c *Core) brandSubject(subject string) string {
	return fmt.Sprintf("[%s] %s", c.BrandName(), subject)
}
