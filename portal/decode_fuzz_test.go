package portal

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
)

// FuzzDecodeJSON decodes any body as a loginRequest and checks decodeJSON
// against a strict reference: it succeeds exactly when the Content-Type is
// application/json and the body is one JSON value (plus white space) that
// decodes into the struct without unknown fields or type errors; on success
// the struct is what the reference decodes, on failure the error says so.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"pw","remember":true}`,
		` {"username":"a"} `, `{"username":"a"}{}`, `{"username":"a"} x`, `{"username":"a"}}`,
		`{"username":"a"}]`, `{"username":"a"},`, `{"username":1}`, `{"user":"a"}`, `{"USERNAME":"a"}`,
		`null`, `[]`, `"x"`, ``, `{`, `{"username":"a","username":"b"}`, "{}\n\n", `{"remember":"yes"}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{}`), "application/json; charset=utf-8")
	f.Add([]byte(`{}`), "Application/JSON")
	f.Add([]byte(`{}`), "text/plain")
	f.Add([]byte(`{}`), "application/x-www-form-urlencoded")
	f.Add([]byte(`{}`), "")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		r, err := http.NewRequest("POST", "https://auth.example.com/api/v1/login", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		r.Header.Set("Content-Type", ct)
		var got loginRequest
		err = decodeJSON(r, &got)

		mt, _, mterr := mime.ParseMediaType(r.Header.Get("Content-Type"))
		want, werr := strictDecode(body)
		ok := mterr == nil && mt == "application/json" && werr == nil
		switch {
		case err == nil && !ok:
			t.Fatalf("decodeJSON(%q, %q) accepted %+v; reference: media type %q (%v), %v", body, ct, got, mt, mterr, werr)
		case err != nil && ok:
			t.Fatalf("decodeJSON(%q, %q) = %v; reference decodes %+v", body, ct, err, want)
		case err == nil && got != want:
			t.Fatalf("decodeJSON(%q, %q) = %+v, reference %+v", body, ct, got, want)
		case err != nil && err.Error() == "":
			t.Fatalf("decodeJSON(%q, %q): empty error", body, ct)
		}
	})
}

// strictDecode decodes body as exactly one JSON value into a loginRequest.
func strictDecode(body []byte) (loginRequest, error) {
	var v loginRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return loginRequest{}, err
	}
	tail := body[dec.InputOffset():]
	if strings.TrimLeft(string(tail), " \t\r\n") != "" {
		return loginRequest{}, io.ErrUnexpectedEOF
	}
	return v, nil
}
