package password

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// cheap keeps tests fast; only TestDefaultParams uses the real cost.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	tests := []struct {
		name     string
		password string
		try      string
		want     bool
	}{
		{name: "same password", password: "Correct9horse", try: "Correct9horse", want: true},
		{name: "wrong password", password: "Correct9horse", try: "correct9horse", want: false},
		{name: "empty password", password: "", try: "", want: true},
		{name: "empty try", password: "x", try: "", want: false},
		{name: "unicode", password: "pässwörd✓", try: "pässwörd✓", want: true},
		{name: "trailing byte", password: "secret", try: "secret\x00", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := Hash(tt.password, cheap)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Errorf("Hash = %q; want the argon2id PHC prefix", encoded)
			}
			ok, err := Verify(tt.try, encoded)
			if err != nil || ok != tt.want {
				t.Errorf("Verify = %v, %v; want %v, nil", ok, err, tt.want)
			}
		})
	}
}

func TestHashSalted(t *testing.T) {
	a, err := Hash("same", cheap)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Hash("same", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of the same password are equal: %q", a)
	}
}

func TestVerifyKnownAnswers(t *testing.T) {
	// argon2id vectors of golang.org/x/crypto/argon2 (password "password",
	// salt "somesalt", 24-byte keys), written as PHC strings, so that hashes
	// from other argon2id implementations verify.
	tests := []struct {
		name, costs, keyHex string
	}{
		{name: "t=1", costs: "m=64,t=1,p=1", keyHex: "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
		{name: "t=2", costs: "m=64,t=2,p=1", keyHex: "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := hex.DecodeString(tt.keyHex)
			if err != nil {
				t.Fatal(err)
			}
			encoded := "$argon2id$v=19$" + tt.costs + "$c29tZXNhbHQ$" + base64.RawStdEncoding.EncodeToString(key)
			if ok, err := Verify("password", encoded); !ok || err != nil {
				t.Errorf("Verify(%q) = %v, %v; want true, nil", encoded, ok, err)
			}
			if ok, err := Verify("Password", encoded); ok || err != nil {
				t.Errorf("Verify of another password = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestHashInvalidParams(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{name: "zero", p: Params{}},
		{name: "no threads", p: Params{Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32}},
		{name: "too much memory", p: Params{Memory: 2 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{name: "short salt", p: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Hash("x", tt.p); !errors.Is(err, ErrInvalidParams) {
				t.Errorf("Hash = %v; want ErrInvalidParams", err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, err := Hash("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty", encoded: ""},
		{name: "garbage", encoded: "not a hash"},
		{name: "bcrypt", encoded: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{name: "argon2i", encoded: "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "uppercase algorithm", encoded: "$ARGON2ID$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "no leading dollar", encoded: "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "old version", encoded: "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "missing version", encoded: "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "missing key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{name: "empty key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{name: "extra field", encoded: good + "$x"},
		{name: "params out of order", encoded: "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{name: "missing param", encoded: "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{name: "non numeric param", encoded: "$argon2id$v=19$m=lots,t=1,p=1$" + salt + "$" + key},
		{name: "negative param", encoded: "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{name: "leading zero param", encoded: "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{name: "overflowing param", encoded: "$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key},
		{name: "absurd memory", encoded: "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key},
		{name: "absurd time", encoded: "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key},
		{name: "zero time", encoded: "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{name: "absurd threads", encoded: "$argon2id$v=19$m=65536,t=1,p=255$" + salt + "$" + key},
		{name: "zero threads", encoded: "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{name: "memory below 8 per thread", encoded: "$argon2id$v=19$m=8,t=1,p=4$" + salt + "$" + key},
		{name: "bad base64 salt", encoded: "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{name: "padded base64 key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "="},
		{name: "url base64 key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("_", 43)},
		{name: "short salt", encoded: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{name: "short key", encoded: "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$a2V5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify("pw", tt.encoded)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", tt.encoded, ok, err)
			}
			if !NeedsRehash(tt.encoded, cheap) {
				t.Errorf("NeedsRehash(%q) = false for a malformed hash", tt.encoded)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	encoded, err := Hash("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Params)) Params {
		p := cheap
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    Params
		want bool
	}{
		{name: "same params", p: cheap, want: false},
		{name: "more memory", p: with(func(p *Params) { p.Memory = 128 }), want: true},
		{name: "more time", p: with(func(p *Params) { p.Time = 2 }), want: true},
		{name: "more threads", p: with(func(p *Params) { p.Threads = 2 }), want: true},
		{name: "longer salt", p: with(func(p *Params) { p.SaltLen = 32 }), want: true},
		{name: "longer key", p: with(func(p *Params) { p.KeyLen = 64 }), want: true},
		{name: "defaults", p: DefaultParams(), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRehash(encoded, tt.p); got != tt.want {
				t.Errorf("NeedsRehash = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	if p != (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Errorf("DefaultParams() = %+v", p)
	}
	encoded, err := Hash("Correct9horse", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q", encoded)
	}
	if ok, err := Verify("Correct9horse", encoded); !ok || err != nil {
		t.Errorf("Verify = %v, %v; want true, nil", ok, err)
	}
	if NeedsRehash(encoded, p) {
		t.Error("NeedsRehash = true for a hash made with the same params")
	}
}

func BenchmarkHashDefault(b *testing.B) {
	p := DefaultParams()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash("Correct9horse", p); err != nil {
			b.Fatal(err)
		}
	}
}
