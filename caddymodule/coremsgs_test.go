package caddymodule

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestCoreMessagesTranslated: a bad new-user form on a German or French
// page shows the service core's message in that language beside its
// field, which is marked invalid; the JSON API answers the same request
// in English, naming the field, whatever the Accept-Language.
func TestCoreMessagesTranslated(t *testing.T) {
	h, olga, _ := secOwnerAndAlice(t)
	tests := []struct {
		name, field, lang, want string
		kv                      []string
		api                     string
		status                  int
	}{
		{"bad username", "username", "de", `Der Wert "a b" im Feld „Benutzername“ darf nur Kleinbuchstaben, Ziffern, ".", "-" und "_" enthalten.`,
			[]string{"username", "a b", "password", "Strong-passw0rd", "password2", "Strong-passw0rd", "role", "user"},
			`the username "a b" may contain only lowercase letters, digits, ".", "-" and "_"`, 400},
		{"bad username", "username", "fr", `La valeur "a b" du champ « Nom d’utilisateur » ne peut contenir que des lettres minuscules, des chiffres, ".", "-" et "_".`,
			[]string{"username", "a b", "password", "Strong-passw0rd", "password2", "Strong-passw0rd", "role", "user"},
			`the username "a b" may contain only lowercase letters, digits, ".", "-" and "_"`, 400},
		{"short password", "password", "de", "Das Feld „Passwort“ braucht mindestens 8 Zeichen, einen Großbuchstaben und eine Ziffer.",
			[]string{"username", "bob", "password", "short", "password2", "short", "role", "user"},
			"the password must have at least 8 characters, an upper-case letter and a digit", 400},
		{"short password", "password", "fr", "Le champ « Mot de passe » doit avoir au moins 8 caractères, une majuscule et un chiffre.",
			[]string{"username", "bob", "password", "short", "password2", "short", "role", "user"},
			"the password must have at least 8 characters, an upper-case letter and a digit", 400},
		{"bad email", "email", "de", `Das Feld „E-Mail“ muss eine gültige E-Mail-Adresse sein, nicht "nope".`,
			[]string{"username", "bob", "email", "nope", "password", "Strong-passw0rd", "password2", "Strong-passw0rd", "role", "user"},
			`the email must be a valid email address, not "nope"`, 400},
		{"username taken", "username", "fr", `Le nom d’utilisateur "alice" est déjà pris.`,
			[]string{"username", "alice", "password", "Strong-passw0rd", "password2", "Strong-passw0rd", "role", "user"},
			`the username "alice" is already taken`, 409},
	}
	// A missing user on the error page, in German; the API in English.
	resp, b := do(t, olga, "GET", h.portalURL("/admin/users/zoe"), nil, withLang("de"))
	if resp.StatusCode != 404 || !strings.Contains(string(b), "Benutzer &#34;zoe&#34; wurde nicht gefunden.") {
		t.Errorf("GET /admin/users/zoe in German: %d %.600s", resp.StatusCode, b)
	}
	if code, b := secAPI(t, h, olga, "GET", "/api/v1/users/zoe", ""); code != 404 || !strings.Contains(string(b), `user \"zoe\" was not found`) {
		t.Errorf("GET /api/v1/users/zoe: %d %s", code, b)
	}

	for _, tt := range tests {
		t.Run(tt.name+" "+tt.lang, func(t *testing.T) {
			_, form := do(t, olga, "GET", h.portalURL("/admin/users/new"), nil, withLang(tt.lang))
			m := csrfInPage.FindSubmatch(form)
			if m == nil {
				t.Fatal("no csrf token on /admin/users/new")
			}
			body, hdr := formBody(append([]string{"csrf", string(m[1])}, tt.kv...)...)
			hdr["Accept-Language"] = tt.lang
			resp, b := do(t, olga, "POST", h.portalURL("/admin/users/new"), body, hdr)
			page := string(b)
			if resp.StatusCode != tt.status || !strings.Contains(page, `<html lang="`+tt.lang+`">`) {
				t.Fatalf("%d, want %d in %s", resp.StatusCode, tt.status, tt.lang)
			}
			inline := `<p class="field-error" id="` + tt.field + `-error">` + strings.ReplaceAll(tt.want, `"`, "&#34;") + `</p>`
			if !strings.Contains(page, inline) {
				t.Errorf("no %s beside the field; the page's error: %s", inline, secPageError(b))
			}
			input := regexp.MustCompile(`<input id="` + tt.field + `"[^>]*>`).FindString(page)
			if !strings.Contains(input, `aria-invalid="true"`) {
				t.Errorf("the field is not marked invalid: %s", input)
			}

			// The API: English, naming the field.
			in := map[string]string{}
			for i := 0; i+1 < len(tt.kv); i += 2 {
				if tt.kv[i] != "password2" {
					in[tt.kv[i]] = tt.kv[i+1]
				}
			}
			js, _ := json.Marshal(in)
			hdrs := map[string]string{"Accept-Language": tt.lang}
			for k, v := range jsonAPI {
				hdrs[k] = v
			}
			resp, b = do(t, olga, "POST", h.portalURL("/api/v1/users"), strings.NewReader(string(js)), hdrs)
			var v map[string]string
			if err := json.Unmarshal(b, &v); err != nil || resp.StatusCode != tt.status || v["error"] != tt.api || (tt.status == 400) != (v["field"] == tt.field) {
				t.Errorf("API: %d %s; want %d %q field %q", resp.StatusCode, b, tt.status, tt.api, tt.field)
			}
		})
	}
}
