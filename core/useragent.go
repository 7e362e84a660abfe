package core

import (
	"strings"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
)

// BrowserOf names the browser and operating system of a User-Agent header
// for people ("Firefox on Linux"), or "an unknown browser". It knows the
// common browsers only; the raw header is never shown, so a client cannot
// put text of its choosing into an e-mail beyond one of these names.
func BrowserOf(ua string) string { return BrowserIn(i18n.Get(i18n.Default), ua) }

// BrowserIn is BrowserOf in language l ("Firefox unter Linux").
func BrowserIn(l *i18n.Lang, ua string) string {
	browser := l.S("ua.unknown")
	for _, b := range []struct{ token, name string }{
		// Order matters: Edge and Opera also say Chrome; Chrome says Safari.
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client/", "ua.go"},
		{"python-requests/", "ua.python"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			if strings.HasPrefix(b.name, "ua.") {
				browser = l.S(b.name)
			}
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
	return l.S("partials.on_2", "Browser", browser, "OS", os)
}
