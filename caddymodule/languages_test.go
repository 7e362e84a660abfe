package caddymodule

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// withLang is the browser header plus Accept-Language.
func withLang(lang string) map[string]string {
	return map[string]string{"Accept": browser["Accept"], "Accept-Language": lang}
}

// TestLanguages: an anonymous browser gets the sign-in page in the
// language it asks for; a user whose profile names French gets French
// pages whatever the browser asks; a bad language or time zone is refused
// naming the field; a security e-mail to a user with German in their
// profile is German, with the time in their zone.
func TestLanguages(t *testing.T) {
	h, _, in, _, bea := mailSetup(t)
	anon := h.client()
	for _, c := range []struct{ accept, want, lang string }{
		{"de-DE,de;q=0.9,en;q=0.5", "Anmelden", "de"},
		{"fr", "Se connecter", "fr"},
		{"es", "Sign in", "en"},
	} {
		resp, page := do(t, anon, "GET", h.portalURL("/login"), nil, withLang(c.accept))
		if resp.StatusCode != 200 || !strings.Contains(string(page), "<h1 id=\"page-title\">"+c.want+"</h1>") ||
			!strings.Contains(string(page), `<html lang="`+c.lang+`">`) {
			t.Errorf("Accept-Language %q: %d, want the sign-in page titled %q in %s", c.accept, resp.StatusCode, c.want, c.lang)
		}
	}

	for _, c := range []struct{ body, field string }{
		{`{"language":"xx"}`, "language"},
		{`{"time_zone":"Mars/Olympus"}`, "time_zone"},
	} {
		if code, b := secAPI(t, h, bea, "PATCH", "/api/v1/me", c.body); code != 400 || !strings.Contains(string(b), c.field) {
			t.Errorf("PATCH %s: %d %s, want 400 naming %s", c.body, code, b, c.field)
		}
	}
	if code, b := secAPI(t, h, bea, "PATCH", "/api/v1/me", `{"language":"fr","time_zone":"Europe/Paris"}`); code != 200 ||
		!strings.Contains(string(b), `"language":"fr","time_zone":"Europe/Paris"`) {
		t.Fatalf("set language: %d %s", code, b)
	}
	resp, page := do(t, bea, "GET", h.portalURL("/profile"), nil, withLang("de"))
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<html lang="fr">`) || !strings.Contains(string(page), "Langue et fuseau horaire") ||
		!strings.Contains(string(page), `data-tz="Europe/Paris"`) {
		t.Errorf("the profile page of a French user asking for German: %d, not French", resp.StatusCode)
	}

	// German in the profile, Berlin's time: the e-mail follows.
	if resp, text := uxPost(t, h, bea, "/profile", "/profile/language", "language", "de", "time_zone", "Europe/Berlin"); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != 200 {
		t.Fatalf("language form: %d %s", resp.StatusCode, secPageError([]byte(text)))
	}
	if code, b := secAPI(t, h, bea, "POST", "/api/v1/me/password", `{"current_password":"`+beaPW+`","password":"Another-passw0rd"}`); code != 200 && code != 204 {
		t.Fatalf("change password: %d %s", code, b)
	}
	m := in.expect("bea@work.example", "Ihr Passwort wurde geändert")
	for _, want := range []string{"Hallo Bea,", "Konto:  bea", "Europe/Berlin", "(UTC+01:00)", "Wenn Sie das waren", "Woher:  IP-Adresse"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the German notice lacks %q:\n%s", want, m.Text)
		}
	}
	if !regexp.MustCompile(`(Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), \d+\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember) \d{4}`).MatchString(m.Text) {
		t.Errorf("the time is not written in German:\n%s", m.Text)
	}
}
