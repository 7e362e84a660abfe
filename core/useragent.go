package core

import "strings"

// BrowserOf names the browser and operating system of a User-Agent header
// for people ("Firefox on Linux"), or "an unknown browser". It knows the
// common browsers only; the raw header is never shown, so a client cannot
// put text of its choosing into an e-mail beyond one of these names.
func BrowserOf(ua string) string {
	browser := "an unknown browser"
	for _, b := range []struct{ token, name string }{
		// Order matters: Edge and Opera also say Chrome; Chrome says Safari.
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client/", "a Go program"},
		{"python-requests/", "a Python program"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	os := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			os = o.name
			break
		}
	}
	if os == "" {
		return browser
	}
	return browser + " on " + os
}
