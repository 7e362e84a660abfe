package i18n

import (
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// Valid reports whether tag names a language of the catalogue ("" is
// valid too: it means "from the browser").
func Valid(tag string) bool { return tag == "" || slices.Contains(Supported, tag) }

// Negotiate chooses the language of a page or e-mail: the user's profile
// setting when it names a supported language, else the best match of the
// browser's Accept-Language header, else fallback (itself "en" when not
// supported).
func Negotiate(profile, acceptLanguage, fallback string) string {
	if slices.Contains(Supported, profile) {
		return profile
	}
	if strings.TrimSpace(acceptLanguage) != "" {
		if prefs, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(prefs) > 0 {
			if _, i, conf := matcher.Match(prefs...); conf != language.No {
				return Supported[i]
			}
		}
	}
	if slices.Contains(Supported, fallback) {
		return fallback
	}
	return Default
}
