package portal

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

// Template helpers.

// asTime reads a time.Time or *time.Time; anything else is the zero time.
func asTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case *time.Time:
		if x != nil {
			return *x
		}
	}
	return time.Time{}
}

// fmtTime formats a time.Time or *time.Time in UTC; a zero or nil time is
// "—".
func fmtTime(v any, layout string) string {
	t := asTime(v)
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layout)
}

// fmtDuration writes a settings duration the way parseDuration reads it:
// whole days as "90d", else Go's form without zero units ("1h30m").
func fmtDuration(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case Duration:
		d = time.Duration(x)
	case time.Duration:
		d = x
	}
	if d == 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// fixedUserPaths are the pages under /admin/users/ that are not users.
var fixedUserPaths = []string{"new", "import"}

// userURL is the page of the user called name. A user whose name is one
// of the fixed pages is found through the search instead.
func userURL(name string) string {
	if name == "" {
		return "/admin/users"
	}
	if slices.Contains(fixedUserPaths, name) {
		return "/admin/users?q=" + url.QueryEscape(name)
	}
	return "/admin/users/" + url.PathEscape(name)
}

// userPath is the page of u, by id when its name is a fixed page.
func userPath(u *store.User) string {
	if slices.Contains(fixedUserPaths, u.Username) {
		return "/admin/users/" + url.PathEscape(u.ID)
	}
	return "/admin/users/" + url.PathEscape(u.Username)
}

func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// errorField is the form field an error message is about, found by the
// name it starts with ("The username … is already taken." is about
// "username"); "" when it names none. Messages name their field this way
// (InputError.Error, the policies' messages), so no page has to pass the
// field along with the message.
func errorField(msg string) string {
	m := strings.ToLower(msg)
	if strings.HasPrefix(m, "the two ") && strings.Contains(m, "passwords do not match") {
		return "password2"
	}
	best, bestLen := "", 0
	for field := range core.FieldLabels {
		name := strings.ToLower(core.FieldName(field))
		if strings.HasPrefix(m, "the "+name+" ") && len(name) > bestLen {
			best, bestLen = field, len(name)
		}
	}
	if best == "" {
		return fieldOfSentence(msg)
	}
	return best
}

// sentence makes a service message a sentence: capitalised, with a full
// stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// splitList reads a list typed into one field: names separated by commas,
// semicolons, spaces or line breaks.
func splitList(v string) []string {
	out := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	if out == nil {
		out = []string{}
	}
	return out
}

// failMsg is statusOf for a page: the status, and the message as a
// sentence naming the form field by its label.
func (s *Service) failMsg(err error) (int, string) {
	status, msg := s.statusOf(err)
	return status, sentence(msg)
}

// pageURL is the link to a page of a paged list at path, keeping q's
// filters: the page after the cursor after, or the first page when after
// is "".
func pageURL(path string, q url.Values, after string) string {
	v := url.Values{}
	for k, vs := range q {
		if k != "after" {
			v[k] = vs
		}
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}
