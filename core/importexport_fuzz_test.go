package core

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseImport checks ParseImport on any data and format:
//   - it never panics; an error is an *InputError with no rows;
//   - on success rowBase is 1 for JSON and 2 for CSV (format "" picks JSON
//     exactly when the data starts with '[');
//   - CSV cells are trimmed, group names are non-empty and hold no
//     separator, and no field holds a NUL the input did not;
//   - the rows round-trip: written back as CSV (or JSON) and parsed again
//     they come out the same.
func FuzzParseImport(f *testing.F) {
	for _, s := range []struct{ data, format string }{
		{"username,email\nalice,alice@example.com\n", ""},
		{"\ufeffUsername, Email ,groups\nbob,bob@example.com,\"a, b;c d\"\n", "csv"},
		{"id,username,email,fallback_email,full_name,role,groups,active\n1,carol,c@x,,Carol C,admin,ops,true\n", ""},
		{"email\nx@y\n", "csv"},
		{"username,nope\nx,y\n", "csv"},
		{"username\n\"unterminated\n", "csv"},
		{"username,role\nshort\nlong,admin,extra,cells\n", "csv"},
		{`[{"username":"dave","groups":["a","b"]}]`, ""},
		{` [ {"username":"eve","role":"admin","full_name":"Eve \u0000 E"} ]`, "json"},
		{`[{"username":"x","unknown":1}]`, "json"},
		{`[{"username":"x"}] trailing`, ""},
		{`null`, "json"},
		{"", ""},
		{"username\nx", "xml"},
	} {
		f.Add([]byte(s.data), s.format)
	}
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		rows, rowBase, err := ParseImport(data, format)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("parseImport(%q, %q): error %T %v is not an InputError", data, format, err, err)
			}
			if rows != nil || rowBase != 0 {
				t.Fatalf("parseImport(%q, %q): error %v with rows %v, rowBase %d", data, format, err, rows, rowBase)
			}
			return
		}
		eff := format
		if eff == "" {
			eff = "csv"
			if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
				eff = "json"
			}
		}
		switch {
		case eff == "json" && rowBase == 1, eff == "csv" && rowBase == 2:
		default:
			t.Fatalf("parseImport(%q, %q): format %s, rowBase %d", data, format, eff, rowBase)
		}
		nulOK := bytes.IndexByte(data, 0) >= 0 || eff == "json" && bytes.Contains(bytes.ToLower(data), []byte(`\u0000`))
		for i, r := range rows {
			fields := append([]string{r.Username, r.Email, r.FallbackEmail, r.FullName, r.Role}, r.Groups...)
			for _, v := range fields {
				if !nulOK && strings.IndexByte(v, 0) >= 0 {
					t.Fatalf("parseImport(%q, %q): row %d field %q has a NUL the input lacks", data, format, i, v)
				}
				if eff == "csv" && v != strings.TrimSpace(v) {
					t.Fatalf("parseImport(%q, %q): row %d field %q is not trimmed", data, format, i, v)
				}
			}
			if eff == "csv" {
				for _, g := range r.Groups {
					if g == "" || strings.ContainsAny(g, ",; ") {
						t.Fatalf("parseImport(%q, %q): row %d has bad group name %q", data, format, i, g)
					}
				}
			}
		}

		// Round trip.
		var again []byte
		if eff == "json" {
			again, err = json.Marshal(rows)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			var b bytes.Buffer
			w := csv.NewWriter(&b)
			_ = w.Write(importFields)
			for _, r := range rows {
				_ = w.Write([]string{r.Username, r.Email, r.FallbackEmail, r.FullName, r.Role, strings.Join(r.Groups, ",")})
			}
			w.Flush()
			if err := w.Error(); err != nil {
				t.Fatal(err)
			}
			again = b.Bytes()
		}
		rows2, rowBase2, err := ParseImport(again, eff)
		if err != nil {
			t.Fatalf("parseImport(%q, %q) = %q, which written as %s does not parse: %v", data, format, rows, again, err)
		}
		if rowBase2 != rowBase || !reflect.DeepEqual(normRows(rows), normRows(rows2)) {
			t.Fatalf("parseImport(%q, %q) = %q (base %d), but written as %q it parses as %q (base %d)",
				data, format, rows, rowBase, again, rows2, rowBase2)
		}
	})
}

// normRows makes nil and empty group lists alike.
func normRows(rows []ImportRow) []ImportRow {
	out := make([]ImportRow, len(rows))
	for i, r := range rows {
		if len(r.Groups) == 0 {
			r.Groups = nil
		}
		out[i] = r
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
