package store

import (
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	in := Group{Name: "ops", Description: "on call"}
	b, err := encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != recordVersion {
		t.Fatalf("version byte = %d", b[0])
	}
	var out Group
	if err := decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("decoded %+v, want %+v", out, in)
	}
}

func TestCodecErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty record"},
		{"unknown version", []byte{42, '{', '}'}, "unknown record version 42"},
		{"bad json", []byte{1, '{'}, "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			err := decode(tc.in, &g)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode = %v, want error containing %q", err, tc.want)
			}
		})
	}
}
