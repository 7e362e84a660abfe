package factor

import (
	"encoding/base32"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: Period, Digits: Digits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(a)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: %d bytes, %v; want 20", a, len(raw), err)
	}
	if a == b {
		t.Fatal("two secrets are the same")
	}
}

func TestMatch(t *testing.T) {
	secret, _ := NewSecret()
	now := time.Unix(1_800_000_015, 0) // mid-step
	step := now.Unix() / Period
	tests := []struct {
		name string
		code string
		want int64
	}{
		{"now", codeAt(t, secret, now), step},
		{"with spaces", " " + codeAt(t, secret, now)[:3] + " " + codeAt(t, secret, now)[3:], step},
		{"one step early", codeAt(t, secret, now.Add(-Period*time.Second)), step - 1},
		{"one step late", codeAt(t, secret, now.Add(Period*time.Second)), step + 1},
		{"two steps early", codeAt(t, secret, now.Add(-2*Period*time.Second)), -1},
		{"too short", codeAt(t, secret, now)[:5], -1},
		{"empty", "", -1},
	}
	for _, tc := range tests {
		// A code of another step can happen to equal now's (1 in 10⁶);
		// skip the negative cases then rather than fail by chance.
		if tc.want == -1 && tc.code == codeAt(t, secret, now) {
			continue
		}
		if got := Match(secret, tc.code, now); got != tc.want {
			t.Errorf("%s: Match = %d, want %d", tc.name, got, tc.want)
		}
	}
	other, _ := NewSecret()
	if code := codeAt(t, other, now); code != codeAt(t, secret, now) && Match(secret, code, now) != -1 {
		t.Error("another secret's code matched")
	}
}

func TestBackupCodes(t *testing.T) {
	codes, hashes := NewBackupCodes()
	if len(codes) != BackupCodes || len(hashes) != BackupCodes {
		t.Fatalf("%d codes, %d hashes; want %d", len(codes), len(hashes), BackupCodes)
	}
	format := regexp.MustCompile(`^[a-km-np-z2-9]{5}-[a-km-np-z2-9]{5}$`)
	seen := map[string]bool{}
	for i, c := range codes {
		if !format.MatchString(c) {
			t.Errorf("code %q is not xxxxx-xxxxx without look-alike characters", c)
		}
		if seen[c] {
			t.Errorf("code %q twice", c)
		}
		seen[c] = true
		for _, typed := range []string{c, strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), " " + c[:5] + " " + c[5:] + " "} {
			if HashBackupCode(typed) != hashes[i] {
				t.Errorf("code %q typed %q hashes differently", c, typed)
			}
		}
	}
	if HashBackupCode("aaaaa-aaaab") == HashBackupCode("aaaaa-aaaaa") {
		t.Error("different codes hash alike")
	}
}
