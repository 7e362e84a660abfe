package identity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestUsernameBase(t *testing.T) {
	tests := []struct {
		preferred, email, want string
	}{
		{"alice", "a@x.org", "alice"},
		{"Alice.Liddell", "", "alice.liddell"},
		{"alice@corp.example", "", "alice"},              // a UPN: its local part
		{"", "Bob.Smith+gh@example.com", "bob.smith-gh"}, // no preferred name: the address
		{"José Müller", "", "jose-muller"},               // accents dropped, space -> -
		{"  __x__  ", "carol@example.com", "carol"},      // one usable character: next candidate
		{"..dan--", "", "dan"},
		{"名前", "eve@example.com", "eve"},
		{"名前", "名@example.com", ""},
		{"", "", ""},
		{"a-very-long-preferred-username-of-many-characters", "", "a-very-long-preferred-username-o"},
		{"ab_._cd", "", "ab_cd"},
		{"12345", "", "12345"},
	}
	for _, tc := range tests {
		if got := UsernameBase(tc.preferred, tc.email); got != tc.want {
			t.Errorf("UsernameBase(%q, %q) = %q, want %q", tc.preferred, tc.email, got, tc.want)
		}
	}
}

func TestUsernameCandidate(t *testing.T) {
	long := strings.Repeat("a", 32)
	tests := []struct {
		base string
		n    int
		want string
	}{
		{"alice", 1, "alice"},
		{"alice", 2, "alice2"},
		{"alice", 10, "alice10"},
		{long, 2, strings.Repeat("a", 31) + "2"},
		{long, 100, strings.Repeat("a", 29) + "100"},
		{strings.Repeat("a", 30) + ".b", 3, strings.Repeat("a", 30) + "3"}, // no "." before the suffix
	}
	for _, tc := range tests {
		got := UsernameCandidate(tc.base, tc.n)
		if got != tc.want {
			t.Errorf("UsernameCandidate(%q, %d) = %q, want %q", tc.base, tc.n, got, tc.want)
		}
		if len(got) > 32 {
			t.Errorf("UsernameCandidate(%q, %d) is %d long", tc.base, tc.n, len(got))
		}
	}
}

func TestIdentityFromClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		want   External
	}{
		{"standard", `{"sub":"1","email":"a@x.org","email_verified":true,"name":"Alice","preferred_username":"al","groups":["a","b"]}`,
			External{Subject: "1", Email: "a@x.org", EmailVerified: true, Name: "Alice", PreferredUsername: "al", Groups: []string{"a", "b"}, HasGroups: true}},
		{"verified as a string", `{"sub":"1","email":"a@x.org","email_verified":"true"}`,
			External{Subject: "1", Email: "a@x.org", EmailVerified: true}},
		{"unverified", `{"sub":"1","email":"a@x.org","email_verified":"false"}`,
			External{Subject: "1", Email: "a@x.org"}},
		{"given and family names", `{"sub":"1","given_name":"Alice","family_name":"Liddell"}`,
			External{Subject: "1", Name: "Alice Liddell"}},
		{"one group as a string", `{"sub":"1","groups":"ops"}`,
			External{Subject: "1", Groups: []string{"ops"}, HasGroups: true}},
		{"empty groups", `{"sub":"1","groups":[]}`,
			External{Subject: "1", HasGroups: true}},
		{"non-string groups ignored", `{"sub":"1","groups":[1,"ops",null,{"a":1}]}`,
			External{Subject: "1", Groups: []string{"ops"}, HasGroups: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal([]byte(tc.claims), &c); err != nil {
				t.Fatal(err)
			}
			got := FromClaims(c, "groups")
			if got.Subject != tc.want.Subject || got.Email != tc.want.Email || got.EmailVerified != tc.want.EmailVerified ||
				got.Name != tc.want.Name || got.PreferredUsername != tc.want.PreferredUsername ||
				!slices.Equal(got.Groups, tc.want.Groups) || got.HasGroups != tc.want.HasGroups {
				t.Errorf("FromClaims = %+v, want %+v", *got, tc.want)
			}
		})
	}
}
