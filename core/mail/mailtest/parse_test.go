package mailtest

import (
	"strings"
	"testing"
)

func TestParseMessage(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	tests := []struct {
		name                string
		raw                 string
		subject, text, html string
	}{
		{
			name:    "no content type",
			raw:     "Subject: plain\n\nline one\nline two\n",
			subject: "plain",
			text:    "line one\nline two\n",
		},
		{
			name: "quoted-printable with soft breaks and encoded subject",
			raw: "Subject: =?UTF-8?q?Passwort_zur=C3=BCcksetzen?=\n" +
				"Content-Type: text/plain; charset=UTF-8\n" +
				"Content-Transfer-Encoding: quoted-printable\n\n" +
				"Gr=C3=BC=C3=9Fe: https://gate.example.com/reset?token=3Dabcdefghijklmnopqrstu=\nvwxyz&x=3D1\n",
			subject: "Passwort zurücksetzen",
			text:    "Grüße: https://gate.example.com/reset?token=abcdefghijklmnopqrstuvwxyz&x=1\n",
		},
		{
			name: "base64 with line breaks",
			raw: "Subject: =?utf-8?b?w6TDtsO8?=\n" +
				"Content-Type: text/plain; charset=utf-8\n" +
				"Content-Transfer-Encoding: BASE64\n\n" +
				"aHR0cHM6Ly9nYXRlLmV4YW1wbGUuY29tL2ludml0\nZS9hYmM=\n",
			subject: "äöü",
			text:    "https://gate.example.com/invite/abc",
		},
		{
			name: "multipart alternative, html first, nested in mixed, with attachment",
			raw: "Subject: both\n" +
				"MIME-Version: 1.0\n" +
				"Content-Type: multipart/mixed; boundary=outer\n\n" +
				"--outer\n" +
				"Content-Type: multipart/alternative; boundary=\"inner\"\n\n" +
				"--inner\n" +
				"Content-Type: text/html; charset=utf-8\n" +
				"Content-Transfer-Encoding: base64\n\n" +
				"PHA+SGk8L3A+\n" +
				"--inner\n" +
				"Content-Type: text/plain; charset=utf-8\n" +
				"Content-Transfer-Encoding: quoted-printable\n\n" +
				"H=C3=AD\n" +
				"--inner--\n" +
				"--outer\n" +
				"Content-Type: text/plain\n" +
				"Content-Disposition: attachment; filename=notes.txt\n\n" +
				"not the body\n" +
				"--outer--\n",
			subject: "both",
			text:    "Hí",
			html:    "<p>Hi</p>",
		},
		{
			name:    "unknown content type keeps text empty",
			raw:     "Subject: pdf\nContent-Type: application/pdf\n\n%PDF\n",
			subject: "pdf",
		},
		{
			name: "unreadable header gives the raw data as text",
			raw:  "this is not a header\n",
			text: "this is not a header\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseMessage([]byte(crlf(tt.raw)))
			if r.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", r.Subject, tt.subject)
			}
			if r.Text != tt.text {
				t.Errorf("Text = %q, want %q", r.Text, tt.text)
			}
			if r.HTML != tt.html {
				t.Errorf("HTML = %q, want %q", r.HTML, tt.html)
			}
			if string(r.Data) != crlf(tt.raw) {
				t.Error("Data is not the raw message")
			}
		})
	}
}
