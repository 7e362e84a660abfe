package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// settingsData is the content of /admin/settings.
type settingsData struct {
	Defaults    Settings
	MailEnabled bool
	// Backups is the Backups card; nil for everyone but owners.
	Backups *backupsView
}

// settingDurations are the duration fields of Settings, by JSON name;
// optional ones may be empty or 0 (off).
var settingDurations = []struct {
	key      string
	optional bool
}{
	{"session_idle", false}, {"session_lifetime", false}, {"session_remember", false},
	{"lockout_duration", false}, {"password_max_age", true},
	{"invite_lifetime", false}, {"reset_lifetime", false}, {"audit_retention", false},
	{"impersonation_lifetime", false}, {"temp_password_lifetime", false},
}

// settingsForm shows st in the settings form.
func settingsForm(st *Settings) map[string]string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return ""
	}
	n := func(v int) string {
		if v == 0 {
			return ""
		}
		return strconv.Itoa(v)
	}
	return map[string]string{
		"session_idle":           fmtDuration(st.SessionIdle),
		"session_lifetime":       fmtDuration(st.SessionLifetime),
		"session_remember":       fmtDuration(st.SessionRemember),
		"lockout_threshold":      strconv.Itoa(st.LockoutThreshold),
		"lockout_duration":       fmtDuration(st.LockoutDuration),
		"password_max_age":       fmtDuration(st.PasswordMaxAge),
		"invite_lifetime":        fmtDuration(st.InviteLifetime),
		"reset_lifetime":         fmtDuration(st.ResetLifetime),
		"audit_retention":        fmtDuration(st.AuditRetention),
		"impersonation_lifetime": fmtDuration(st.ImpersonationLifetime),
		"temp_password_lifetime": fmtDuration(st.TempPasswordLifetime),
		"lock_profile":           b(st.LockProfile),
		"require_2fa":            b(st.Require2FA),
		"notify_impersonation":   b(st.NotifyImpersonation),
		"default_language":       st.DefaultLanguage,
		"min_length":             n(st.PasswordRules.MinLength),
		"max_length":             n(st.PasswordRules.MaxLength),
		"require_lower":          b(st.PasswordRules.RequireLower),
		"require_upper":          b(st.PasswordRules.RequireUpper),
		"require_digit":          b(st.PasswordRules.RequireDigit),
		"require_symbol":         b(st.PasswordRules.RequireSymbol),
		"forbid_username":        b(st.PasswordRules.ForbidUsername),
	}
}

func (s accessUI) handleSettings(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderSettings(w, r, c, http.StatusOK, "", nil)
}

func (s accessUI) renderSettings(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string) {
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.settings"), "settings")
	p.Error = errMsg
	p.Form = settingsForm(s.core.Settings())
	for k, v := range form {
		p.Form[k] = v
	}
	p.Data = settingsData{Defaults: s.core.Defaults(), MailEnabled: s.mail.Enabled(), Backups: s.backupsFor(c)}
	s.render(w, r, status, "settings", p)
}

// settingsPatch turns the settings form into the JSON patch that
// updateSettings takes (as PATCH /api/v1/settings).
func settingsPatch(f url.Values) ([]byte, error) {
	patch := map[string]any{}
	for _, d := range settingDurations {
		v := strings.TrimSpace(f.Get(d.key))
		if v == "" && d.optional {
			v = "0"
		}
		if v == "" {
			return nil, inputErr(d.key, "is required")
		}
		dur, err := core.ParseDuration(v)
		if err != nil {
			return nil, inputErr(d.key, "%v", err)
		}
		patch[d.key] = dur.String()
	}
	num := func(key string, emptyZero bool) (int, error) {
		v := strings.TrimSpace(f.Get(key))
		if v == "" && emptyZero {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, inputErr(key, "must be a whole number")
		}
		return n, nil
	}
	th, err := num("lockout_threshold", false)
	if err != nil {
		return nil, err
	}
	patch["lockout_threshold"] = th
	minLen, err := num("min_length", true)
	if err != nil {
		return nil, err
	}
	maxLen, err := num("max_length", true)
	if err != nil {
		return nil, err
	}
	on := func(key string) bool { return f.Get(key) != "" }
	// A map, not policies.PasswordRules, whose omitempty lengths would
	// leave a cleared field at its old value.
	patch["password_rules"] = map[string]any{"min_length": minLen, "max_length": maxLen,
		"require_lower": on("require_lower"), "require_upper": on("require_upper"), "require_digit": on("require_digit"),
		"require_symbol": on("require_symbol"), "forbid_username": on("forbid_username")}
	patch["lock_profile"] = on("lock_profile")
	patch["require_2fa"] = on("require_2fa")
	patch["notify_impersonation"] = on("notify_impersonation")
	if f.Has("default_language") {
		patch["default_language"] = f.Get("default_language")
	}
	return json.Marshal(patch)
}

func (s accessUI) handleSettingsForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	form := map[string]string{}
	for k := range settingsForm(s.core.Settings()) {
		form[k] = f.Get(k)
	}
	raw, err := settingsPatch(f)
	if err == nil {
		_, err = s.core.UpdateSettings(r.Context(), c, raw)
	}
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderSettings(w, r, c, status, msg, form)
		return
	}
	s.done(w, r, c, "/admin/settings", s.pages.tr(c, "msg.settings.settings_saved_they_apply"))
}

func (s accessUI) handleTestMail(w http.ResponseWriter, r *http.Request, c *caller) {
	to := strings.TrimSpace(r.PostForm.Get("to"))
	if err := s.core.Credentials.SendTestMail(r.Context(), c, to); err != nil {
		status, msg := s.failMsg(err)
		s.renderSettings(w, r, c, status, msg, map[string]string{"to": to})
		return
	}
	if to == "" {
		to = c.User.Email
	}
	s.done(w, r, c, "/admin/settings", s.pages.tr(c, "msg.settings.test_mail_sent", "To", to))
}
