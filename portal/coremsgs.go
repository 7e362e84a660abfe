package portal

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/internal/i18n"
	"github.com/gatehouse-auth/gatehouse/policies"
)

// fieldIDPrefix starts the catalogue IDs of the input fields' labels.
const fieldIDPrefix = "core.field."

// coreMsgs remembers the service errors whose English messages statusOf
// gave out lately, by message (as given and as a sentence), so that
// render can say them in the page's language without every page passing
// the error along with its message. It keeps two generations of at most
// coreMsgsMax messages each; a message is the same text for everyone who
// gets it, so sharing them is safe, and a forgotten one (or one no error
// carries a format for) is shown in English.
type coreMsgs struct {
	mu        sync.Mutex
	cur, prev map[string]error
}

// coreMsgsMax bounds each generation of coreMsgs, and coreMsgMaxLen the
// length of a message it keeps (a longer one, say with a long value the
// client sent, stays English), so that it holds a few MB at most.
const (
	coreMsgsMax   = 2048
	coreMsgMaxLen = 512
)

// note remembers that msg is the English message of err, when the
// catalogue can say err in another language.
func (m *coreMsgs) note(msg string, err error) {
	if english, ok := englishOf(err); !ok || english != msg || len(msg) > coreMsgMaxLen {
		return // not one the catalogue has, or wrapped in more words
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cur) >= coreMsgsMax || m.cur == nil {
		m.prev, m.cur = m.cur, make(map[string]error, 64)
	}
	m.cur[msg] = err
	m.cur[sentence(msg)] = err
}

// find returns the error whose English message (or its sentence) is msg;
// nil when none is remembered.
func (m *coreMsgs) find(msg string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err, ok := m.cur[msg]; ok {
		return err
	}
	return m.prev[msg]
}

// internalErrorMsg is what statusOf shows for an unexpected error.
const internalErrorMsg = "internal error"

// say returns msg, a message render shows, in l: when msg is the English
// message of a service error statusOf gave out, that error in l's words
// (a sentence if msg was one), else msg as it is.
func (m *coreMsgs) say(l *i18n.Lang, msg string) string {
	if msg == "" || l.Tag() == i18n.Default {
		return msg
	}
	if msg == internalErrorMsg || msg == sentence(internalErrorMsg) {
		return l.S("error.internal")
	}
	err := m.find(msg)
	if err == nil {
		return msg
	}
	out, ok := sayError(l, err)
	if !ok {
		return msg
	}
	if msg == sentence(msg) {
		return sentence(out)
	}
	return out
}

// reason is a refusal of policies (an ErrForbidden) that says why.
type reason interface {
	Reason() (format string, args []any)
}

// formatOf is the English format and arguments of err's own message, as
// statusOf shows it for pages (for a refusal or a conflict, without the
// sentinel's words); ok is false when err carries none.
func formatOf(err error) (format string, args []any, ok bool) {
	var ce *core.ConflictError
	var we *core.WrapError
	var r reason
	switch {
	case errors.As(err, &we):
		return we.Format, we.Args, true
	case errors.As(err, &ce) && ce.Format != "":
		return ce.Format, ce.Args, true
	case errors.As(err, &r):
		format, args = r.Reason()
		return format, args, true
	}
	return "", nil, false
}

// sentinels are the service's errors with a fixed message that pages
// show as it is; the catalogue has their text as a format without verbs.
var sentinels = []error{core.ErrBusy, core.ErrTooMany, core.ErrDirectoryUnavailable}

// sentinelOf is the sentinel err is, when its message is the sentinel's
// own; nil otherwise.
func sentinelOf(err error) error {
	for _, e := range sentinels {
		if errors.Is(err, e) && plainMessage(err) == e.Error() {
			return e
		}
	}
	return nil
}

// englishOf is the English message sayError says err from: what statusOf
// shows when err is not wrapped in more words; ok is false when sayError
// cannot say err.
func englishOf(err error) (string, bool) {
	var ie *core.InputError
	if errors.As(err, &ie) {
		return ie.Error(), ie.Format != ""
	}
	var we *core.WrapError
	if errors.As(err, &we) && we.Sentinel == core.ErrNotFound {
		return fmt.Sprintf(we.Format, we.Args...) + " was not found", true // as plainMessage says it
	}
	if format, args, ok := formatOf(err); ok {
		return fmt.Sprintf(format, args...), true
	}
	if e := sentinelOf(err); e != nil {
		return e.Error(), true
	}
	return "", false
}

// sayError says err, a service error, in l: an *InputError from its
// format in the catalogue's core area (i18n.FormatID), its arguments that
// are such errors said in l too, and a message that starts with a verb
// after its field's label ("Das Feld „Benutzername“ ist erforderlich").
// ok is false when the catalogue cannot say it.
func sayError(l *i18n.Lang, err error) (msg string, ok bool) {
	var np nameProblem
	var wp weakPassword
	switch {
	case errors.As(err, &np):
		return sayNameProblem(l, np)
	case errors.As(err, &wp):
		return sayWeakPassword(l, wp)
	}
	var ie *core.InputError
	if !errors.As(err, &ie) {
		if format, args, ok := formatOf(err); ok {
			what, ok := sayFormat(l, format, args)
			var we *core.WrapError
			if ok && errors.As(err, &we) && we.Sentinel == core.ErrNotFound {
				return l.S("core.x.not_found", "What", what), true
			}
			return what, ok
		}
		if e := sentinelOf(err); e != nil {
			return sayFormat(l, e.Error(), nil)
		}
		return "", false
	}
	if ie.Format == "" {
		return "", false
	}
	rest, ok := sayFormat(l, ie.Format, ie.Args)
	if !ok {
		return "", false
	}
	if ie.Field == "" || !core.IsFragment(ie.Msg) {
		return rest, true
	}
	return l.S("core.x.field_sentence", "Label", fieldLabel(l, ie.Field), "Rest", rest), true
}

// fieldLabel is field's label in l (core.FieldLabels in English).
func fieldLabel(l *i18n.Lang, field string) string {
	if s, err := l.T(fieldIDPrefix + field); err == nil {
		return s
	}
	return strings.ReplaceAll(field, "_", " ")
}

// fieldOfSentence is the field a message in German or French is about,
// found by how core.x.field_sentence names it, without its article ("Feld
// „Benutzername“", "champ « Nom d’utilisateur »"), which
// core.x.name_sentence says too; "" when it names none.
func fieldOfSentence(msg string) string {
	m := strings.ToLower(msg)
	best, bestLen := "", 0
	for _, tag := range i18n.Supported[1:] {
		l := i18n.Get(tag)
		for field := range core.FieldLabels {
			named := strings.ToLower(strings.TrimSpace(l.S("core.x.field_sentence", "Label", fieldLabel(l, field), "Rest", "")))
			if _, after, ok := strings.Cut(named, " "); ok {
				named = after
			}
			if strings.Contains(m, named) && len(named) > bestLen {
				best, bestLen = field, len(named)
			}
		}
	}
	return best
}

// sayFormat is fmt.Sprintf(format, args...) in l: format from the
// catalogue's core area, and the arguments that are errors it can say in
// l too.
func sayFormat(l *i18n.Lang, format string, args []any) (string, bool) {
	f, err := l.T(i18n.FormatID(format))
	if err != nil {
		return "", false
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
		if e, isErr := a.(error); isErr {
			if s, ok := sayError(l, e); ok {
				out[i] = s
			}
		}
	}
	return fmt.Sprintf(f, out...), true
}

// nameProblem is a bad username or group name from policies.
type nameProblem interface {
	NameProblem() (kind, name, format string, args []any)
}

// sayNameProblem says np in l: "Das Feld „Benutzername“ ist erforderlich",
// "Der Wert "a b" im Feld „Benutzername“ darf nur … enthalten".
func sayNameProblem(l *i18n.Lang, np nameProblem) (string, bool) {
	kind, name, format, args := np.NameProblem()
	rest, ok := sayFormat(l, format, args)
	if !ok {
		return "", false
	}
	label := fieldLabel(l, strings.ReplaceAll(kind, " ", "_"))
	if name == "" {
		return l.S("core.x.field_sentence", "Label", label, "Rest", rest), true
	}
	return l.S("core.x.name_sentence", "Label", label, "Name", fmt.Sprintf("%q", name), "Rest", rest), true
}

// weakPassword is a password that breaks policies' rules.
type weakPassword interface {
	BrokenRules() (needs, mustNot []policies.Rule)
}

// sayWeakPassword says wp in l: "Das Feld „Passwort“ braucht mindestens 8
// Zeichen und eine Ziffer, und darf den Benutzernamen nicht enthalten".
func sayWeakPassword(l *i18n.Lang, wp weakPassword) (string, bool) {
	needs, mustNot := wp.BrokenRules()
	say := func(rules []policies.Rule) ([]string, bool) {
		out := make([]string, len(rules))
		for i, r := range rules {
			s, ok := sayFormat(l, r.Format, r.Args)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	n, ok1 := say(needs)
	m, ok2 := say(mustNot)
	if !ok1 || !ok2 {
		return "", false
	}
	var parts []string
	if k := len(n); k > 0 {
		list := n[0]
		if k > 1 {
			list = l.S("rules.and", "List", strings.Join(n[:k-1], ", "), "Last", n[k-1])
		}
		parts = append(parts, l.S("core.x.password_needs", "List", list))
	}
	parts = append(parts, m...)
	rest := strings.Join(parts, l.S("core.x.and_then"))
	return l.S("core.x.field_sentence", "Label", fieldLabel(l, "password"), "Rest", rest), true
}

// notePlain is plainMessage(err), noted for pages to say in their
// language.
func (ps *pageSets) notePlain(err error) string {
	msg := plainMessage(err)
	if ps != nil {
		ps.msgs.note(msg, err)
	}
	return msg
}
