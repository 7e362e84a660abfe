package core

import (
	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"strings"
	"testing"
	"time"
)

func TestBrowserOf(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0", "Edge on Windows"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", "Chrome on Android"},
		{"curl/8.5.0", "curl"},
		{"", "an unknown browser"},
		// Whatever a client sends, only known names reach the e-mail.
		{"Evil\r\nBcc: x@example.com <a href=x>click</a>", "an unknown browser"},
	} {
		if got := BrowserOf(tc.ua); got != tc.want {
			t.Errorf("BrowserOf(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

func TestFormatNoticeTime(t *testing.T) {
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ zone, want string }{
		{"", "Wednesday 2 December 2026, 08:00:00 UTC"},
		{"Europe/Berlin", "Wednesday 2 December 2026, 09:00:00 CET (UTC+01:00) Europe/Berlin"},
		{"America/New_York", "Wednesday 2 December 2026, 03:00:00 EST (UTC-05:00) America/New_York"},
		{"No/Such_Zone", "Wednesday 2 December 2026, 08:00:00 UTC"},
	} {
		if got := FormatNoticeTime(at, tc.zone); got != tc.want {
			t.Errorf("FormatNoticeTime(%q) = %q, want %q", tc.zone, got, tc.want)
		}
	}
	for tag, want := range map[string]string{
		"de": "Mittwoch, 2. Dezember 2026, 09:00:00 CET (UTC+01:00) Europe/Berlin",
		"fr": "mercredi 2 décembre 2026, 09:00:00 CET (UTC+01:00) Europe/Berlin",
	} {
		if got := NoticeTime(i18n.Get(tag), at, "Europe/Berlin"); got != want {
			t.Errorf("NoticeTime(%s) = %q, want %q", tag, got, want)
		}
	}
}

func TestNoticeCritical(t *testing.T) {
	optional := map[Notice]bool{NoticeNewDevice: true, NoticeAPIKey: true, NoticeAppPassword: true}
	for _, n := range []Notice{NoticeNewDevice, NoticePasswordChanged, NoticeEmailChanged, NoticeFactorAdded,
		NoticeFactorRemoved, NoticeLocked, NoticeAPIKey, NoticeAppPassword, NoticeImpersonated} {
		if n.Critical() == optional[n] {
			t.Errorf("%s: critical %t", n, n.Critical())
		}
		for _, tag := range i18n.Supported {
			if s, err := i18n.Get(tag).T(n.subjectID()); err != nil || strings.ContainsAny(s, "\r\n") {
				t.Errorf("%s (%s): subject %q, %v", n, tag, s, err)
			}
		}
	}
}
