package policies

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "already normal", in: "alice", want: "alice"},
		{name: "upper case", in: "Alice.Smith", want: "alice.smith"},
		{name: "surrounding space", in: "  bob\t\n", want: "bob"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeUsername(tt.in); got != tt.want {
				t.Errorf("NormalizeUsername(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // "" when valid
	}{
		{name: "letters", in: "alice"},
		{name: "all allowed characters", in: "a1.b-c_d"},
		{name: "starts with digit", in: "1st"},
		{name: "shortest", in: "ab"},
		{name: "longest", in: strings.Repeat("a", 32)},
		{name: "empty", in: "", wantErr: `the username is required`},
		{name: "symbol", in: "ab$", wantErr: `the username "ab$" may contain only lowercase letters, digits, ".", "-" and "_"`},
		{name: "upper case", in: "Alice", wantErr: `the username "Alice" may contain only lowercase letters, digits, ".", "-" and "_"`},
		{name: "space", in: "a b", wantErr: `the username "a b" may contain only lowercase letters, digits, ".", "-" and "_"`},
		{name: "at sign", in: "a@b.com", wantErr: `the username "a@b.com" may contain only lowercase letters, digits, ".", "-" and "_"`},
		{name: "non ascii letter", in: "zoë", wantErr: `the username "zoë" may contain only lowercase letters, digits, ".", "-" and "_"`},
		{name: "too short", in: "a", wantErr: `the username "a" must be 2 to 32 characters long`},
		{name: "too long", in: strings.Repeat("a", 33), wantErr: `the username "` + strings.Repeat("a", 33) + `" must be 2 to 32 characters long`},
		{name: "starts with dot", in: ".alice", wantErr: `the username ".alice" must start with a letter or a digit`},
		{name: "starts with dash", in: "-alice", wantErr: `the username "-alice" must start with a letter or a digit`},
		{name: "starts with underscore", in: "_alice", wantErr: `the username "_alice" must start with a letter or a digit`},
		{name: "reserved admin", in: "admin", wantErr: `the username "admin" is reserved: choose another one`},
		{name: "reserved gatehouse", in: "gatehouse", wantErr: `the username "gatehouse" is reserved: choose another one`},
		{name: "reserved cli", in: "cli", wantErr: `the username "cli" is reserved: choose another one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateUsername(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateUsername(%q) = %v; want nil", tt.in, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("ValidateUsername(%q) = %v; want %s", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidUsername) {
				t.Errorf("ValidateUsername(%q) does not wrap ErrInvalidUsername", tt.in)
			}
		})
	}
}

func TestValidateGroupName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "plain", in: "developers"},
		{name: "reserved word is fine for groups", in: "admin"},
		{name: "symbol", in: "ops!", wantErr: `the group name "ops!" may contain only lowercase letters, digits, ".", "-" and "_"`},
		{name: "too short", in: "x", wantErr: `the group name "x" must be 2 to 32 characters long`},
		{name: "starts with dash", in: "-ops", wantErr: `the group name "-ops" must start with a letter or a digit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateGroupName(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateGroupName(%q) = %v; want nil", tt.in, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrInvalidUsername) {
				t.Fatalf("ValidateGroupName(%q) = %v; want %s wrapping ErrInvalidUsername", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestIsReservedUsername(t *testing.T) {
	for _, name := range []string{
		"admin", "administrator", "root", "system", "gatehouse", "api", "login", "logout",
		"setup", "portal", "owner", "support", "security", "null", "anonymous", "everyone",
	} {
		if !IsReservedUsername(name) {
			t.Errorf("IsReservedUsername(%q) = false; want true", name)
		}
	}
	for name := range reservedUsernames {
		if err := ValidateGroupName(name); err != nil {
			t.Errorf("reserved name breaks the character rules, so listing it is useless: %v", err)
		}
	}
	for _, name := range []string{"alice", "admins", "rooted"} {
		if IsReservedUsername(name) {
			t.Errorf("IsReservedUsername(%q) = true; want false", name)
		}
	}
}
