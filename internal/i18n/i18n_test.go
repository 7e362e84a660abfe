package i18n

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var fieldRe = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// fields lists the {{.Name}} fields of every form of message id in tag.
func fields(tag, id string) []string {
	m := ids[tag][id]
	set := map[string]bool{}
	for _, s := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
		for _, f := range fieldRe.FindAllStringSubmatch(s, -1) {
			set[f[1]] = true
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// TestCatalogueComplete fails when a message of one language is missing in
// another, or its translations use different template fields.
func TestCatalogueComplete(t *testing.T) {
	en := IDs("en")
	if len(en) < 50 {
		t.Fatalf("the English catalogue has only %d messages", len(en))
	}
	for _, tag := range Supported[1:] {
		other := IDs(tag)
		for _, id := range en {
			if !slices.Contains(other, id) {
				t.Errorf("%s: %q is missing", tag, id)
				continue
			}
			if a, b := fields("en", id), fields(tag, id); !slices.Equal(a, b) {
				t.Errorf("%s: %q uses fields %v, en uses %v", tag, id, b, a)
			}
			if m := ids[tag][id]; m.Other == "" {
				t.Errorf("%s: %q is empty", tag, id)
			}
		}
		for _, id := range other {
			if !slices.Contains(en, id) {
				t.Errorf("%s: %q is not in the English catalogue", tag, id)
			}
		}
	}
	for _, id := range en {
		if m := ids["en"][id]; m.Other == "" {
			t.Errorf("en: %q is empty", id)
		}
	}
}

func TestMissingIDIsAnError(t *testing.T) {
	for _, tag := range Supported {
		s, err := Get(tag).T("no.such.message")
		if err == nil || !IsMissing(err) || s != "" {
			t.Errorf("%s: T(missing) = %q, %v; want an i18n.MissingError", tag, s, err)
		}
	}
}

func TestPlurals(t *testing.T) {
	for _, c := range []struct {
		tag  string
		d    time.Duration
		want string
	}{
		{"en", time.Minute, "1 minute"}, {"en", 3 * time.Minute, "3 minutes"},
		{"de", 30 * time.Minute, "30 Minuten"}, {"de", 72 * time.Hour, "3 Tagen"},
		{"fr", 72 * time.Hour, "3 jours"}, {"fr", 90 * time.Minute, "2 heures"},
	} {
		got, err := Get(c.tag).Span(c.d)
		if err != nil || got != c.want {
			t.Errorf("%s Span(%v) = %q, %v; want %q", c.tag, c.d, got, err, c.want)
		}
	}
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	if got, _ := Get("de").Ago(now, now.Add(-2*time.Hour)); got != "vor 2 Stunden" {
		t.Errorf("de Ago = %q", got)
	}
	if got, _ := Get("fr").Until(now, now.Add(5*time.Minute)); got != "dans 5 minutes" {
		t.Errorf("fr Until = %q", got)
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct{ profile, accept, fallback, want string }{
		{"", "", "", "en"},
		{"", "", "de", "de"},
		{"", "de-DE,de;q=0.9,en;q=0.8", "en", "de"},
		{"", "fr-CH, fr;q=0.9", "en", "fr"},
		{"", "es-ES", "fr", "fr"},
		{"fr", "de", "en", "fr"},
		{"xx", "de", "en", "de"},
		{"", "garbage;;q", "en", "en"},
	} {
		if got := Negotiate(c.profile, c.accept, c.fallback); got != c.want {
			t.Errorf("Negotiate(%q, %q, %q) = %q; want %q", c.profile, c.accept, c.fallback, got, c.want)
		}
	}
}

func TestDates(t *testing.T) {
	ts := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	berlin := Zone("Europe/Berlin")
	for _, c := range []struct{ tag, date, datetime string }{
		{"en", "2 Mar 2026", "2 Mar 2026, 00:30 CET"},
		{"de", "2. März 2026", "2. März 2026, 00:30 CET"},
		{"fr", "2 mars 2026", "2 mars 2026, 00:30 CET"},
	} {
		l := Get(c.tag)
		if got := l.Date(ts, berlin); got != c.date {
			t.Errorf("%s Date = %q; want %q", c.tag, got, c.date)
		}
		if got := l.DateTime(ts, berlin); got != c.datetime {
			t.Errorf("%s DateTime = %q; want %q", c.tag, got, c.datetime)
		}
	}
	if !ValidZone("") || !ValidZone("America/New_York") || ValidZone("Mars/Base") || ValidZone("Local") || ValidZone(strings.Repeat("a", 65)) {
		t.Error("ValidZone")
	}
}

func TestMissingFieldIsAnError(t *testing.T) {
	if s, err := Get("de").T("time.in"); err == nil {
		t.Errorf("T without the Span field = %q, want an error", s)
	}
	if s, err := Get("fr").T("time.in", "Span", "3 jours"); err != nil || s != "dans 3 jours" {
		t.Errorf("T = %q, %v", s, err)
	}
}

// TestUntilRounds: English durations round to the nearest whole unit (an
// invitation made a few seconds ago for 3 days expires "in 3 days").
func TestUntilRounds(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"invitation just made for 3 days", 3*day - 5*time.Second, "in 3 days"},
		{"exactly 3 days", 3 * day, "in 3 days"},
		{"7 days less a minute", 7*day - time.Minute, "in 7 days"},
		{"2.4 days", 2*day + 10*time.Hour, "in 2 days"},
		{"2.6 days", 2*day + 14*time.Hour, "in 3 days"},
		{"just under 2 days", 48*time.Hour - 10*time.Second, "in 2 days"},
		{"11 hours 59 minutes", 11*time.Hour + 59*time.Minute, "in 12 hours"},
		{"59 minutes 50 seconds", 59*time.Minute + 50*time.Second, "in 1 hour"},
		{"one minute", time.Minute, "in 1 minute"},
		{"seconds", 20 * time.Second, "in less than a minute"},
		{"30 days", 30 * day, "in 30 days"},
		{"90 days", 90 * day, "in 3 months"},
		{"a year less a day", 364 * day, "in 12 months"},
		{"3 years", 3 * 365 * day, "in 3 years"},
		{"past", -time.Second, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Get("en").Until(now, now.Add(tt.in)); err != nil || got != tt.want {
				t.Errorf("Until(now+%v) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestAgoRounds: the same rounding in the past.
func TestAgoRounds(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{90 * time.Second, "2 minutes ago"},
		{3*24*time.Hour - time.Minute, "3 days ago"},
		{time.Hour + 20*time.Minute, "1 hour ago"},
	}
	for _, tt := range tests {
		if got, err := Get("en").Ago(now, now.Add(-tt.in)); err != nil || got != tt.want {
			t.Errorf("Ago(now-%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
