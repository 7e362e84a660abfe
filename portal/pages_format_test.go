package portal

import (
	"net/url"
	"testing"
	"time"
)

func TestFmtUntilRounds(t *testing.T) {
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
			if got := fmtUntil(now, now.Add(tt.in)); got != tt.want {
				t.Errorf("fmtUntil(now+%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFmtAgoRounds(t *testing.T) {
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
		if got := fmtAgo(now, now.Add(-tt.in)); got != tt.want {
			t.Errorf("fmtAgo(now-%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPageURL: paging links keep the list's filters and replace the cursor.
func TestPageURL(t *testing.T) {
	for _, tc := range []struct {
		q, after, want string
	}{
		{"", "c2", "/admin/users?after=c2"},
		{"q=al&role=admin", "c2", "/admin/users?after=c2&q=al&role=admin"},
		{"q=al&after=c1", "c2", "/admin/users?after=c2&q=al"},
		{"q=al&after=c1", "", "/admin/users?q=al"},
		{"after=c1", "", "/admin/users"},
	} {
		q, _ := url.ParseQuery(tc.q)
		if got := pageURL("/admin/users", q, tc.after); got != tc.want {
			t.Errorf("pageURL(%q, %q) = %q, want %q", tc.q, tc.after, got, tc.want)
		}
	}
}
