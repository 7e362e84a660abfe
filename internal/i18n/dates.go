package i18n

import (
	"strconv"
	"time"
	_ "time/tzdata" // the users' time zones on hosts without a zoneinfo database
)

// months are the abbreviated month names of each language, January first.
var months = map[string][12]string{
	"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	"de": {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
	"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
}

// dayFormats are how each language writes a day: %d day, %m month name, %y year.
var dayFormats = map[string]func(d int, m string, y int) string{
	"en": func(d int, m string, y int) string { return strconv.Itoa(d) + " " + m + " " + strconv.Itoa(y) },
	"de": func(d int, m string, y int) string { return strconv.Itoa(d) + ". " + m + " " + strconv.Itoa(y) },
	"fr": func(d int, m string, y int) string { return strconv.Itoa(d) + " " + m + " " + strconv.Itoa(y) },
}

// ValidZone reports whether zone is an IANA time zone name ("" is valid:
// it means "from the browser", UTC where no browser is asked).
func ValidZone(zone string) bool {
	if zone == "" {
		return true
	}
	if len(zone) > 64 || zone == "Local" {
		return false
	}
	_, err := time.LoadLocation(zone)
	return err == nil
}

// Zone returns the location called zone; UTC for "" or an unknown name.
func Zone(zone string) *time.Location {
	if zone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return time.UTC
	}
	return loc
}

// Date writes t's day in loc, in l's language: "2 Jan 2026",
// "2. Jan. 2026", "2 janv. 2026"; a zero time is "—".
func (l *Lang) Date(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(loc)
	return dayFormats[l.tag](t.Day(), months[l.tag][t.Month()-1], t.Year())
}

// DateTime writes t's day and time in loc with the zone's abbreviation:
// "2 Jan 2026, 15:04 CET"; a zero time is "—".
func (l *Lang) DateTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(loc)
	return l.Date(t, loc) + ", " + t.Format("15:04 MST")
}

// spanUnits are the units Span counts in, each used while the rounded
// count stays below limit.
var spanUnits = []struct {
	size, limit time.Duration
	id          string
}{
	{time.Minute, time.Hour, "time.minutes"},
	{time.Hour, 48 * time.Hour, "time.hours"},
	{24 * time.Hour, 60 * 24 * time.Hour, "time.days"},
	{30 * 24 * time.Hour, 730 * 24 * time.Hour, "time.months"},
	{365 * 24 * time.Hour, 1<<63 - 1, "time.years"},
}

// Span says how long d is in its largest fitting unit, rounded to the
// nearest whole unit ("3 days"); the form fits after "in" and "ago" in
// each language.
func (l *Lang) Span(d time.Duration) (string, error) {
	if d < time.Minute {
		return l.T("time.less_than_a_minute")
	}
	for _, u := range spanUnits {
		n := (d + u.size/2) / u.size
		if n*u.size < u.limit || u.id == "time.years" {
			return l.T(u.id, "Count", int(n))
		}
	}
	return "", nil // unreachable: the last unit has no limit
}

// Ago says how long before now t was: "just now", "5 minutes ago";
// "never" for a zero time.
func (l *Lang) Ago(now, t time.Time) (string, error) {
	if t.IsZero() {
		return l.T("time.never")
	}
	d := now.Sub(t)
	if d < 0 {
		return l.Until(now, t)
	}
	if d < time.Minute {
		return l.T("time.just_now")
	}
	s, err := l.Span(d)
	if err != nil {
		return "", err
	}
	return l.T("time.ago", "Span", s)
}

// Until says how long after now t is: "in 3 days"; "never" for a zero
// time, "expired" for a past one.
func (l *Lang) Until(now, t time.Time) (string, error) {
	if t.IsZero() {
		return l.T("time.never")
	}
	d := t.Sub(now)
	if d <= 0 {
		return l.T("time.expired")
	}
	s, err := l.Span(d)
	if err != nil {
		return "", err
	}
	return l.T("time.in", "Span", s)
}

// weekdays are the names of the days of each language, Sunday first.
var weekdays = map[string][7]string{
	"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
	"de": {"Sonntag,", "Montag,", "Dienstag,", "Mittwoch,", "Donnerstag,", "Freitag,", "Samstag,"},
	"fr": {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
}

// Weekday is the name of t's day of the week (in t's location), as it
// stands before a date.
func (l *Lang) Weekday(t time.Time) string { return weekdays[l.tag][t.Weekday()] }

// longMonths are the full month names of each language, January first.
var longMonths = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
}

// LongDate writes t's day (in t's location) with the weekday and the full
// month name: "Wednesday 2 December 2026", "Mittwoch, 2. Dezember 2026",
// "mercredi 2 décembre 2026".
func (l *Lang) LongDate(t time.Time) string {
	return l.Weekday(t) + " " + dayFormats[l.tag](t.Day(), longMonths[l.tag][t.Month()-1], t.Year())
}
