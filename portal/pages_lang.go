package portal

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// pageSets are the page templates of every language: each page parsed once
// per language with its t, ago and until helpers bound to it (base, never
// executed), and, made from those on first use, a clone per time zone
// whose date and datetime helpers write times in that zone.
type pageSets struct {
	base  map[string]map[string]*template.Template // language → page → template
	mu    sync.Mutex
	zoned map[zonedPage]*template.Template
	// ready holds the entries of zoned for reads without the lock.
	ready sync.Map
	// defaultLang is the setting default_language; brand the brand name
	// the messages name the product by.
	defaultLang, brand func() string
	// msgs are the service errors whose messages pages may show, to say
	// them in the page's language.
	msgs coreMsgs
}

// zonedPage names one page in one language and time zone.
type zonedPage struct{ lang, zone, name string }

// langFuncs are the helpers of language l; its messages name the product
// brand() (nil: the default name).
func langFuncs(l *i18n.Lang, brand func() string) template.FuncMap {
	if brand == nil {
		brand = func() string { return "" }
	}
	return template.FuncMap{
		"t": func(id string, args ...any) (string, error) { return l.Branded(brand()).T(id, args...) },
		"thtml": func(id string, args ...any) (template.HTML, error) {
			for i := 1; i < len(args); i += 2 {
				if s, ok := args[i].(string); ok {
					args[i] = template.HTMLEscapeString(s)
				}
			}
			s, err := l.Branded(template.HTMLEscapeString(brand())).T(id, args...)
			return template.HTML(s), err // #nosec G203 -- the catalogue is ours; the arguments are escaped above
		},
		"lang":  l.Tag,
		"ago":   func(now time.Time, v any) (string, error) { return l.Ago(now, asTime(v)) },
		"until": l.Until,
	}
}

// zoneFuncs are the date helpers of language l in loc.
func zoneFuncs(l *i18n.Lang, loc *time.Location) template.FuncMap {
	return template.FuncMap{
		"date":     func(v any) string { return l.Date(asTime(v), loc) },
		"datetime": func(v any) string { return l.DateTime(asTime(v), loc) },
	}
}

// parsePages parses every page in every language.
func parsePages() (*pageSets, error) {
	ps := &pageSets{base: map[string]map[string]*template.Template{}, zoned: map[zonedPage]*template.Template{},
		defaultLang: func() string { return i18n.Default }, brand: func() string { return "" }}
	for _, tag := range i18n.Supported {
		l := i18n.Get(tag)
		pages := make(map[string]*template.Template, len(pageNames))
		for _, name := range pageNames {
			t, err := template.New(name).Funcs(pageFuncs).Funcs(langFuncs(l, nil)).Funcs(zoneFuncs(l, time.UTC)).ParseFS(webFS,
				"web/templates/layout.html", "web/templates/partials.html", "web/templates/branding.html", "web/templates/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("portal: parse page %s: %w", name, err)
			}
			pages[name] = t
		}
		ps.base[tag] = pages
	}
	return ps, nil
}

// funcs binds fm in every page of every language; only before any page is
// rendered.
func (ps *pageSets) funcs(fm template.FuncMap) {
	for _, pages := range ps.base {
		for _, t := range pages {
			t.Funcs(fm)
		}
	}
}

// page returns page name in language tag with times in zone.
func (ps *pageSets) page(tag, zone, name string) (*template.Template, error) {
	if !i18n.ValidZone(zone) || zone == "UTC" {
		zone = ""
	}
	k := zonedPage{tag, zone, name}
	if t, ok := ps.ready.Load(k); ok {
		return t.(*template.Template), nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if t := ps.zoned[k]; t != nil {
		return t, nil
	}
	base := ps.base[tag][name]
	if base == nil {
		return nil, fmt.Errorf("portal: no page %q in %q", name, tag)
	}
	t, err := base.Clone()
	if err != nil {
		return nil, fmt.Errorf("portal: page %s (%s, %s): %w", name, tag, zone, err)
	}
	t.Funcs(zoneFuncs(i18n.Get(tag), i18n.Zone(zone)))
	ps.zoned[k] = t
	ps.ready.Store(k, t)
	return t, nil
}

// lang is the language of a page for the user u (nil: nobody signed in)
// of a request with header h: the profile's, else the browser's, else the
// portal's default.
func (ps *pageSets) lang(h http.Header, u *store.User) *i18n.Lang {
	var profile string
	if u != nil {
		profile = u.Language
	}
	return i18n.Get(i18n.Negotiate(profile, h.Get("Accept-Language"), ps.defaultLang())).Branded(ps.brand())
}

// tr is the text of message id in c's language: their profile's, else
// their browser's, else the portal's default.
func (ps *pageSets) tr(c *caller, id string, args ...any) string {
	var profile string
	if c.User != nil {
		profile = c.User.Language
	}
	return i18n.Get(i18n.Negotiate(profile, c.AcceptLanguage, ps.defaultLang())).Branded(ps.brand()).S(id, args...)
}

// until says in c's language how long after now t is ("in 3 days").
func (ps *pageSets) until(c *caller, now, t time.Time) string {
	var profile string
	if c.User != nil {
		profile = c.User.Language
	}
	out, err := i18n.Get(i18n.Negotiate(profile, c.AcceptLanguage, ps.defaultLang())).Until(now, t)
	if err != nil {
		out, _ = i18n.Get(i18n.Default).Until(now, t)
	}
	return out
}

// describeRules says in l what a new password must be: "8 to 256
// characters, with a lower-case letter and a digit, not containing your
// username." (policies.PasswordRules.Describe in English).
func describeRules(l *i18n.Lang, r policies.PasswordRules) string {
	lo, hi := r.Bounds()
	out := l.S("rules.length", "Min", lo, "Max", hi)
	var with []string
	for _, w := range []struct {
		on bool
		id string
	}{{r.RequireLower, "rules.lower"}, {r.RequireUpper, "rules.upper"}, {r.RequireDigit, "rules.digit"}, {r.RequireSymbol, "rules.symbol"}} {
		if w.on {
			with = append(with, l.S(w.id))
		}
	}
	if n := len(with); n > 0 {
		list := with[0]
		if n > 1 {
			list = l.S("rules.and", "List", strings.Join(with[:n-1], ", "), "Last", with[n-1])
		}
		out += l.S("rules.with", "List", list)
	}
	if r.ForbidUsername {
		out += l.S("rules.no_username")
	}
	return out + "."
}
