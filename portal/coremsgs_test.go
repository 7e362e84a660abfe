package portal

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// inputCall is one core.Input or inputErr call of the sources: where it
// is and its format (a literal).
type inputCall struct {
	pos    string
	format string
}

// formatArg is the index of the format argument of the functions whose
// messages pages say from the catalogue.
var formatArg = map[string]int{"Input": 1, "inputErr": 1, "Conflictf": 0, "conflictMsg": 0, "forbidden": 0, "NotFoundf": 0}

// inputCalls finds every Input(field, format, …) and inputErr(field,
// format, …) call in the non-test Go files of core, policies and portal;
// a call whose format is not a string literal is reported as an error.
func inputCalls(t *testing.T) []inputCall {
	t.Helper()
	var out []inputCall
	fset := token.NewFileSet()
	for _, dir := range []string{"../core", "../policies", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if kv, ok := n.(*ast.KeyValueExpr); ok && dir == "../policies" {
					// policies' messages: nameError{format: …}, Rule{Format: …}
					key, _ := kv.Key.(*ast.Ident)
					lit, _ := kv.Value.(*ast.BasicLit)
					if key != nil && lit != nil && lit.Kind == token.STRING && (key.Name == "format" || key.Name == "Format") {
						s, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						out = append(out, inputCall{fset.Position(kv.Pos()).String(), s})
					}
					return true
				}
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 1 {
					return true
				}
				var name string
				switch fn := call.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					if x, ok := fn.X.(*ast.Ident); ok && (x.Name == "core" || x.Name == "policies") {
						name = fn.Sel.Name
					}
				}
				arg, ok := formatArg[name]
				if !ok || len(call.Args) <= arg {
					return true
				}
				pos := fset.Position(call.Pos()).String()
				if id, ok := call.Args[arg].(*ast.Ident); ok && id.Name == "format" {
					return true // inputErr passing its own format on
				}
				lit, ok := call.Args[arg].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: %s's format is not a string literal, so no catalogue entry can be found for it", pos, name)
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: %v", pos, err)
				}
				out = append(out, inputCall{pos, s})
				return true
			})
		}
	}
	return out
}

var verbRe = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]*)?[a-zA-Z%]`)

// verbs lists the printf verbs of format in order, without %%.
func verbs(format string) []string {
	var out []string
	for _, v := range verbRe.FindAllString(format, -1) {
		if v != "%%" {
			out = append(out, v)
		}
	}
	return out
}

// TestCoreMessagesInCatalogue fails when a format of core.Input or
// inputErr has no entry in the core area of the catalogue, or when a
// translation's printf verbs differ from the English format's (kinds and
// order). It prints the English lines to add.
func TestCoreMessagesInCatalogue(t *testing.T) {
	calls := inputCalls(t)
	if len(calls) < 100 {
		t.Fatalf("found only %d Input/inputErr calls: is the scan broken?", len(calls))
	}
	for _, e := range sentinels {
		calls = append(calls, inputCall{"sentinels", e.Error()})
	}
	seen := map[string]bool{}
	for _, c := range calls {
		id := i18n.FormatID(c.format)
		if seen[id] {
			continue
		}
		seen[id] = true
		en, err := i18n.Get("en").T(id)
		if err != nil {
			t.Errorf("%s: no catalogue entry for %q; add to internal/i18n/locales/core.*.toml:\n%q = %s", c.pos, c.format, id, strconv.Quote(c.format))
			continue
		}
		if en != c.format {
			t.Errorf("%s: %s is %q in core.en.toml; the code says %q", c.pos, id, en, c.format)
		}
		want := verbs(c.format)
		for _, tag := range i18n.Supported {
			got, err := i18n.Get(tag).T(id)
			if err != nil {
				t.Errorf("%s: %s: %v", c.pos, tag, err)
				continue
			}
			if v := verbs(got); !slices.Equal(v, want) {
				t.Errorf("%s: %s %s has verbs %v, the format %q has %v", c.pos, tag, id, v, c.format, want)
			}
		}
	}
	for _, id := range i18n.IDs("en") {
		if strings.HasPrefix(id, "core.") && !strings.HasPrefix(id, "core.field.") && !strings.HasPrefix(id, "core.x.") && !seen[id] {
			t.Errorf("%s is in the catalogue but no Input call uses it: remove it", id)
		}
	}
}

// TestFieldLabelsInCatalogue: every label of core.FieldLabels is in the
// catalogue as core.field.NAME, the English one as the forms say it.
func TestFieldLabelsInCatalogue(t *testing.T) {
	for field, label := range core.FieldLabels {
		for _, tag := range i18n.Supported {
			s, err := i18n.Get(tag).T(fieldIDPrefix + field)
			if err != nil {
				t.Errorf("%s: %v", tag, err)
			} else if tag == "en" && s != label {
				t.Errorf("en %s%s is %q; core.FieldLabels says %q", fieldIDPrefix, field, s, label)
			}
		}
	}
}

// TestSayCoreErrors: the service core's messages in German and French,
// with their field's label, a name's problem and a weak password's broken
// rules; English keeps the message exactly; render finds the field of
// the translated sentence; an error without a format is not said.
func TestSayCoreErrors(t *testing.T) {
	rules := policies.DefaultPasswordRules()
	weak := core.Input("password", "%v", rules.Check("bobby", "bobby"))
	badName := core.Input("username", "%v", policies.ValidateUsername("a b"))
	tests := []struct {
		err        error
		field      string
		en, de, fr string
	}{
		{core.Input("username", "is required"), "username", "the username is required",
			"Das Feld „Benutzername“ ist erforderlich", "Le champ « Nom d’utilisateur » est obligatoire"},
		{core.Input("email", "must be a valid email address, not %q", "x"), "email",
			`the email must be a valid email address, not "x"`,
			`Das Feld „E-Mail“ muss eine gültige E-Mail-Adresse sein, nicht "x"`,
			`Le champ « E-mail » doit être une adresse e-mail valide, pas "x"`},
		{badName, "username", `the username "a b" may contain only lowercase letters, digits, ".", "-" and "_"`,
			`Der Wert "a b" im Feld „Benutzername“ darf nur Kleinbuchstaben, Ziffern, ".", "-" und "_" enthalten`,
			`La valeur "a b" du champ « Nom d’utilisateur » ne peut contenir que des lettres minuscules, des chiffres, ".", "-" et "_"`},
		{weak, "password", "the password must have at least 8 characters, an upper-case letter and a digit, and must not contain the username",
			"Das Feld „Passwort“ braucht mindestens 8 Zeichen, einen Großbuchstaben und eine Ziffer, und darf den Benutzernamen nicht enthalten",
			"Le champ « Mot de passe » doit avoir au moins 8 caractères, une majuscule et un chiffre, et ne doit pas contenir le nom d’utilisateur"},
		{core.Input("role", "unknown role %q (roles: %s)", "boss", "owner, user"), "",
			`unknown role "boss" (roles: owner, user)`, `unbekannte Rolle "boss" (Rollen: owner, user)`,
			`rôle inconnu "boss" (rôles : owner, user)`},
	}
	var m coreMsgs
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.en {
			t.Errorf("Error() = %q; want %q (the API's English)", got, tt.en)
		}
		m.note(tt.err.Error(), tt.err)
		for tag, want := range map[string]string{"de": tt.de, "fr": tt.fr} {
			l := i18n.Get(tag)
			got, ok := sayError(l, tt.err)
			if !ok || got != want {
				t.Errorf("%s: %q, %v; want %q", tag, got, ok, want)
			}
			if s := m.say(l, sentence(tt.en)); s != sentence(want) {
				t.Errorf("%s: say(%q) = %q; want %q", tag, sentence(tt.en), s, sentence(want))
			}
			if tt.field != "" && errorField(sentence(want)) != tt.field {
				t.Errorf("%s: errorField(%q) = %q; want %q", tag, want, errorField(sentence(want)), tt.field)
			}
		}
		if s := m.say(i18n.Get("en"), sentence(tt.en)); s != sentence(tt.en) {
			t.Errorf("en: say changed %q to %q", tt.en, s)
		}
	}
	refusal := policies.CanManage(policies.Principal{Role: "user"}, policies.Target{Role: "user"})
	for _, c := range []struct {
		err        error
		en, de, fr string
	}{
		{core.Conflictf("the username %q is already taken", "alice"), `the username "alice" is already taken`,
			`der Benutzername "alice" ist bereits vergeben`, `le nom d’utilisateur "alice" est déjà pris`},
		{core.ErrBusy, "busy, try again shortly",
			"ausgelastet, versuchen Sie es gleich noch einmal", "occupé, réessayez dans un instant"},
		{core.NotFoundf("user %q", "zoe"), `user "zoe" was not found`,
			`Benutzer "zoe" wurde nicht gefunden`, `utilisateur "zoe" introuvable`},
		{policies.CanChangeRole(policies.Principal{Role: "user"}, policies.Target{Role: "helpdesk"}, []string{"bob"}),
			"role helpdesk is held by bob, whom you may not manage (changing users needs the users.write permission)",
			"die Rolle helpdesk hat bob, den Sie nicht verwalten dürfen (Benutzer zu ändern erfordert die Berechtigung users.write)",
			"le rôle helpdesk est détenu par bob, que vous ne pouvez pas gérer (modifier des utilisateurs demande la permission users.write)"},
		{refusal, "changing users needs the users.write permission",
			"Benutzer zu ändern erfordert die Berechtigung users.write", "modifier des utilisateurs demande la permission users.write"},
	} {
		msg := plainMessage(c.err)
		if msg != c.en {
			t.Errorf("plainMessage = %q; want %q", msg, c.en)
		}
		m.note(msg, c.err)
		if got := m.say(i18n.Get("de"), sentence(msg)); got != sentence(c.de) {
			t.Errorf("de: %q; want %q", got, sentence(c.de))
		}
		if got := m.say(i18n.Get("fr"), msg); got != c.fr {
			t.Errorf("fr: %q; want %q", got, c.fr)
		}
		// Wrapped in more words, the message is not the one of the format: kept as it is.
		more := fmt.Errorf("renaming: %w", c.err)
		m.note(plainMessage(more), more)
		if got := m.say(i18n.Get("de"), plainMessage(more)); got != plainMessage(more) {
			t.Errorf("a message wrapped in more words became %q", got)
		}
	}
	long := core.Input("email", "must be a valid email address, not %q", strings.Repeat("x", coreMsgMaxLen))
	m.note(long.Error(), long)
	if m.find(long.Error()) != nil {
		t.Error("a message longer than coreMsgMaxLen was kept")
	}
	for i := range 2*coreMsgsMax + 1 {
		e := core.Input("email", "must be a valid email address, not %q", strconv.Itoa(i))
		m.note(e.Error(), e)
	}
	if n := len(m.cur) + len(m.prev); n > 4*coreMsgsMax {
		t.Errorf("coreMsgs holds %d messages", n)
	}
	plain := &core.InputError{Field: "name", Msg: "is odd"}
	if _, ok := sayError(i18n.Get("de"), plain); ok {
		t.Error("an InputError without a format was said in German")
	}
	if got := m.say(i18n.Get("de"), "Something else."); got != "Something else." {
		t.Errorf("an unknown message became %q", got)
	}
}

// TestSayInternalError: the message of an unexpected error, which
// statusOf shows as "internal error", is said in the page's language.
func TestSayInternalError(t *testing.T) {
	var m coreMsgs
	for _, lang := range []string{"de", "fr"} {
		l := i18n.Get(lang)
		for _, msg := range []string{internalErrorMsg, sentence(internalErrorMsg)} {
			if got, want := m.say(l, msg), l.S("error.internal"); got != want || strings.Contains(got, "internal error") {
				t.Errorf("%s: %q said as %q, want %q", lang, msg, got, want)
			}
		}
	}
	if got := m.say(i18n.Get("en"), internalErrorMsg); got != internalErrorMsg {
		t.Errorf("English: %q", got)
	}
}
