package policies

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordRulesCheck(t *testing.T) {
	def := DefaultPasswordRules()
	symbol := def
	symbol.RequireSymbol = true
	lax := PasswordRules{MinLength: 4, MaxLength: 10}

	tests := []struct {
		name     string
		rules    PasswordRules
		password string
		username string
		wantErr  string // "" when the password is fine
	}{
		{name: "good", rules: def, password: "Correct9horse", username: "alice"},
		{name: "exactly min length", rules: def, password: "Abcdef12", username: "alice"},
		{name: "too short", rules: def, password: "Abc12", username: "alice",
			wantErr: "the password must have at least 8 characters"},
		{name: "length counted in runes", rules: def, password: "Ééééé1", username: "alice",
			wantErr: "the password must have at least 8 characters"},
		{name: "runes reach min length", rules: def, password: "Éééééé1é", username: "alice"},
		{name: "several needs listed", rules: def, password: "abc", username: "alice",
			wantErr: "the password must have at least 8 characters, an upper-case letter and a digit"},
		{name: "every need listed", rules: symbol, password: "", username: "alice",
			wantErr: "the password must have at least 8 characters, a lower-case letter, an upper-case letter, a digit and a symbol"},
		{name: "symbol present", rules: symbol, password: "Correct9horse!", username: "alice"},
		{name: "too long", rules: def, password: "Aa1" + strings.Repeat("x", 254), username: "alice",
			wantErr: "the password must not be longer than 256 characters"},
		{name: "contains username", rules: def, password: "xxALICE2024x", username: "alice",
			wantErr: "the password must not contain the username"},
		{name: "needs and contains username", rules: def, password: "alice", username: "Alice",
			wantErr: "the password must have at least 8 characters, an upper-case letter and a digit, and must not contain the username"},
		{name: "short username not looked for", rules: def, password: "Journey2024", username: "jo"},
		{name: "username allowed when not forbidden", rules: lax, password: "alice", username: "alice"},
		{name: "zero max means default", rules: lax, password: strings.Repeat("x", 11), username: "",
			wantErr: "the password must not be longer than 10 characters"},
		{name: "zero value rules use default lengths", rules: PasswordRules{}, password: "short", username: "",
			wantErr: "the password must have at least 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rules.Check(tt.password, tt.username)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v; want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Check = %v; want %s", err, tt.wantErr)
			}
			if !errors.Is(err, ErrWeakPassword) {
				t.Errorf("Check error does not wrap ErrWeakPassword")
			}
			if len(tt.rules.Unmet(tt.password, tt.username)) == 0 {
				t.Errorf("Unmet is empty while Check fails")
			}
		})
	}
}

func TestPasswordRulesDescribe(t *testing.T) {
	tests := []struct {
		name  string
		rules PasswordRules
		want  string
	}{
		{name: "default", rules: DefaultPasswordRules(),
			want: "8 to 256 characters, with a lower-case letter, an upper-case letter and a digit, not containing your username."},
		{name: "lengths only", rules: PasswordRules{MinLength: 12, MaxLength: 64},
			want: "12 to 64 characters."},
		{name: "one requirement", rules: PasswordRules{RequireSymbol: true},
			want: "8 to 256 characters, with a symbol."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Describe(); got != tt.want {
				t.Errorf("Describe() = %q; want %q", got, tt.want)
			}
		})
	}
}
