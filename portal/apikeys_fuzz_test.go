package portal

import (
	"net/http"
	"strings"
	"testing"
)

// isBase62 reports whether every byte of s is one of base62chars.
func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(base62chars, rune(s[i])) {
			return false
		}
	}
	return true
}

// FuzzWellFormedKey checks that wellFormedKey accepts exactly the keys of
// the documented shape with a matching checksum, that fresh keys always
// pass, and that a single changed character of a valid key is refused.
func FuzzWellFormedKey(f *testing.F) {
	valid := newAPIKeySecret()
	for _, s := range []string{
		"", "gth_", valid, valid[:len(valid)-1], valid + "x", "GTH_" + valid[4:],
		" " + valid, valid + " ", strings.Repeat("0", keyLen),
		"gth_" + strings.Repeat("0", keyBodyLen) + strings.Repeat("0", keySumLen),
		"gth_" + strings.Repeat("é", keyBodyLen/2) + "000000",
	} {
		f.Add(s, 0, byte('x'))
	}
	f.Add(valid, 10, byte('A'))
	f.Add(valid, keyLen-1, byte('0'))
	f.Fuzz(func(t *testing.T, k string, pos int, c byte) {
		if wellFormedKey(k) {
			if len(k) != keyLen || !strings.HasPrefix(k, keyPrefix) {
				t.Fatalf("wellFormedKey(%q) but wrong length or prefix", k)
			}
			body, sum := k[len(keyPrefix):len(keyPrefix)+keyBodyLen], k[len(keyPrefix)+keyBodyLen:]
			if !isBase62(sum) {
				t.Fatalf("wellFormedKey(%q) but checksum %q is not base62", k, sum)
			}
			if want := keyChecksum(body); string(want[:]) != sum {
				t.Fatalf("wellFormedKey(%q) but checksum %q != %q", k, sum, want[:])
			}
		}

		// A fresh key always passes, and changing any one character of it
		// to another makes it fail (CRC-32 catches every single-byte error).
		key := newAPIKeySecret()
		if !wellFormedKey(key) || !isBase62(key[len(keyPrefix):]) {
			t.Fatalf("newAPIKeySecret() = %q is not well formed", key)
		}
		if pos < 0 {
			pos = -(pos + 1)
		}
		pos %= keyLen
		mut := key[:pos] + string([]byte{c}) + key[pos+1:]
		if got := wellFormedKey(mut); got != (mut == key) {
			t.Fatalf("wellFormedKey(%q) = %v after changing byte %d of %q", mut, got, pos, key)
		}
		// The same for the fuzzed input when it is a valid key.
		if wellFormedKey(k) {
			mut := k[:pos] + string([]byte{c}) + k[pos+1:]
			if got := wellFormedKey(mut); got != (mut == k) {
				t.Fatalf("wellFormedKey(%q) = %v after changing byte %d of %q", mut, got, pos, k)
			}
		}
	})
}

// FuzzBearerKey checks that bearerKey returns either "" or a trimmed
// string with the key prefix taken from an Authorization header of the
// form "Bearer <key>" (scheme case-insensitive).
func FuzzBearerKey(f *testing.F) {
	valid := newAPIKeySecret()
	for _, s := range []string{
		"", "Bearer", "Bearer ", "Bearer " + valid, "bearer " + valid, "BEARER  " + valid + " ",
		"Basic " + valid, "Bearer\t" + valid, "Bearer x" + valid, "Bearer gth_", "Bearer gth_ a b",
		"Bearer ✓" + valid, "Bearer  \u00a0" + valid,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("Authorization", v)
		k := bearerKey(h)
		if k == "" {
			// A header "Bearer <valid key>" must never be missed.
			v := h.Get("Authorization")
			if len(v) >= 7 && strings.EqualFold(v[:7], "bearer ") && wellFormedKey(strings.TrimSpace(v[7:])) {
				t.Fatalf("bearerKey missed the key in %q", v)
			}
			return
		}
		got := h.Get("Authorization")
		if len(got) < 7 || !strings.EqualFold(got[:7], "bearer ") {
			t.Fatalf("bearerKey(%q) = %q without a bearer scheme", got, k)
		}
		if !strings.HasPrefix(k, keyPrefix) {
			t.Fatalf("bearerKey(%q) = %q without the key prefix", got, k)
		}
		if k != strings.TrimSpace(k) {
			t.Fatalf("bearerKey(%q) = %q is not trimmed", got, k)
		}
		if !strings.HasSuffix(strings.TrimSpace(got), k) {
			t.Fatalf("bearerKey(%q) = %q is not the end of the header", got, k)
		}
	})
}
