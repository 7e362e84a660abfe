package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/adapt")

// TestAdapt adapts each testdata/adapt/*.caddyfiletest (a Caddyfile, a line
// of dashes, the JSON it must become) like Caddy's own adapt tests, and
// checks that our JSON decodes into our types and encodes back unchanged.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cf, want, _ := strings.Cut(string(raw), "\n----------\n")
			got, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf+"\n"), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "\t"); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(f, []byte(cf+"\n----------\n"+pretty.String()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.TrimSpace(pretty.String()) != strings.TrimSpace(want) {
				t.Fatalf("adapted JSON differs (go test -run TestAdapt -update to accept):\n%s", pretty.String())
			}
			roundTrip(t, got)
		})
	}
}

// roundTrip decodes the gatehouse app and every gatehouse handler of cfg
// into our types and checks they encode back to the same JSON.
func roundTrip(t *testing.T, cfg []byte) {
	t.Helper()
	var doc struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	if raw, ok := doc.Apps["gatehouse"]; ok {
		same(t, raw, new(App))
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			switch v["handler"] {
			case "gatehouse":
				b, _ := json.Marshal(v)
				same(t, b, new(Guard), "handler")
			case "gatehouse_portal":
				b, _ := json.Marshal(v)
				same(t, b, new(Portal), "handler")
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	var all any
	_ = json.Unmarshal(cfg, &all)
	walk(all)
}

// same decodes raw into v strictly and checks that v encodes to the same
// JSON (ignoring the listed keys, which Caddy adds).
func same(t *testing.T, raw []byte, v any, ignore ...string) {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for _, k := range ignore {
		delete(m, k)
	}
	stripped, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(stripped))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s into %T: %v", stripped, v, err)
	}
	back, _ := json.Marshal(v)
	var a, b any
	_ = json.Unmarshal(stripped, &a)
	_ = json.Unmarshal(back, &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("%T does not round-trip:\n in: %s\nout: %s", v, ja, jb)
	}
}
