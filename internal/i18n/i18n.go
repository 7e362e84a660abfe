// Package i18n holds Gatehouse's message catalogue: every user-facing
// string of the portal and the e-mails, in English, German and French,
// loaded with go-i18n from the embedded TOML files under locales/ (named
// AREA.LANG.toml). A Lang translates into one language and returns an
// error for an ID its catalogue lacks, never the ID itself.
package i18n

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	gotemplate "github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"
)

//go:embed locales/*.toml
var localesFS embed.FS

// Default is the language used when nothing else chooses one.
const Default = "en"

// Supported are the languages of the catalogue, the default first.
var Supported = []string{"en", "de", "fr"}

var (
	bundle  *goi18n.Bundle
	langs   map[string]*Lang
	ids     map[string]map[string]*goi18n.Message // language -> ID -> message
	matcher language.Matcher
)

func init() {
	if err := load(); err != nil {
		panic(err) // the catalogue is embedded: a broken file is a build defect, caught by the tests
	}
}

// load parses every embedded catalogue file.
func load() error {
	bundle = goi18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	ids = map[string]map[string]*goi18n.Message{}
	files, err := fs.Glob(localesFS, "locales/*.toml")
	if err != nil {
		return fmt.Errorf("i18n: list catalogue: %w", err)
	}
	for _, f := range files {
		buf, err := localesFS.ReadFile(f)
		if err != nil {
			return fmt.Errorf("i18n: read %s: %w", f, err)
		}
		mf, err := bundle.ParseMessageFileBytes(buf, path.Base(f))
		if err != nil {
			return fmt.Errorf("i18n: parse %s: %w", f, err)
		}
		tag := mf.Tag.String()
		if ids[tag] == nil {
			ids[tag] = map[string]*goi18n.Message{}
		}
		for _, m := range mf.Messages {
			if _, dup := ids[tag][m.ID]; dup {
				return fmt.Errorf("i18n: %s: message %q defined twice", f, m.ID)
			}
			ids[tag][m.ID] = m
		}
	}
	langs = map[string]*Lang{}
	tags := make([]language.Tag, 0, len(Supported))
	for _, s := range Supported {
		langs[s] = &Lang{tag: s, loc: goi18n.NewLocalizer(bundle, s)}
		tags = append(tags, language.Make(s))
	}
	matcher = language.NewMatcher(tags)
	return nil
}

// Lang translates into one language. Every message may name the
// product as {{.Brand}}: the brand name of Branded, else DefaultBrand.
type Lang struct {
	tag   string
	loc   *goi18n.Localizer
	brand string
}

// DefaultBrand is the product's name when no brand name is set.
const DefaultBrand = "Gatehouse"

// Branded returns l naming the product brand in its messages ({{.Brand}}).
func (l *Lang) Branded(brand string) *Lang {
	if brand == "" || brand == l.brand {
		return l
	}
	b := *l
	b.brand = brand
	return &b
}

// Get returns the translator for tag, one of Supported; any other tag
// gets the default language.
func Get(tag string) *Lang {
	if l, ok := langs[tag]; ok {
		return l
	}
	return langs[Default]
}

// Tag is the language's BCP 47 tag ("en", "de", "fr").
func (l *Lang) Tag() string { return l.tag }

// T returns message id in l's language. args are name, value pairs filling
// the message's {{.Name}} fields; a "Count" argument also chooses the
// plural form. An id missing in this language's catalogue is an error.
func (l *Lang) T(id string, args ...any) (string, error) {
	if len(args)%2 != 0 {
		return "", fmt.Errorf("i18n: %s: odd number of arguments", id)
	}
	var count any
	data := make(map[string]any, len(args)/2+1)
	data["Brand"] = DefaultBrand
	if l.brand != "" {
		data["Brand"] = l.brand
	}
	for i := 0; i < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok {
			return "", fmt.Errorf("i18n: %s: argument names must be strings", id)
		}
		data[k] = args[i+1]
		if k == "Count" {
			count = args[i+1]
		}
	}
	if _, ok := ids[l.tag][id]; !ok {
		return "", &MissingError{Lang: l.tag, ID: id}
	}
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count, TemplateParser: strict})
	if err != nil {
		return "", fmt.Errorf("i18n: %s (%s): %w", id, l.tag, err)
	}
	return s, nil
}

// strict parses the messages' templates so that a field the caller did
// not give is an error, not "<no value>".
var strict = &gotemplate.TextParser{Option: "missingkey=error"}

// MissingError is a message ID the catalogue of a language lacks.
type MissingError struct{ Lang, ID string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("i18n: no message %q in the %s catalogue", e.ID, e.Lang)
}

// IsMissing reports whether err is (or wraps) a MissingError.
func IsMissing(err error) bool {
	var m *MissingError
	return errors.As(err, &m)
}

// IDs lists the message IDs of language tag, sorted.
func IDs(tag string) []string {
	out := make([]string, 0, len(ids[tag]))
	for id := range ids[tag] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// S is T for Go code that needs a string: a missing ID (a defect, which
// the portal's source test catches) gives the English text, or, when even
// that is missing, a visible "‹id›" marker, never the bare ID.
func (l *Lang) S(id string, args ...any) string {
	s, err := l.T(id, args...)
	if err == nil {
		return s
	}
	if l.tag != Default {
		if s, err := Get(Default).T(id, args...); err == nil {
			return s
		}
	}
	return "‹" + id + "›"
}
