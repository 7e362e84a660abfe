package portal

import "testing"

func TestFormSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://grafana.example.com/login/generic_oauth?x=1", "https://grafana.example.com"},
		{"http://127.0.0.1:9/cb", "http://127.0.0.1:9"},
		{"app.immich:///oauth-callback", "app.immich:"},
		{"https://a.example;script-src *", ""},
		{"https://a.example, b/cb", ""},
		{"", ""},
		{"::", ""},
	}
	for _, tc := range tests {
		if got := formSource(tc.in); got != tc.want {
			t.Errorf("formSource(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
