package core

import (
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

// FuzzWellFormedKey checks that WellFormedKey accepts exactly the keys of
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
		if WellFormedKey(k) {
			if len(k) != keyLen || !strings.HasPrefix(k, KeyPrefix) {
				t.Fatalf("wellFormedKey(%q) but wrong length or prefix", k)
			}
			body, sum := k[len(KeyPrefix):len(KeyPrefix)+keyBodyLen], k[len(KeyPrefix)+keyBodyLen:]
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
		if !WellFormedKey(key) || !isBase62(key[len(KeyPrefix):]) {
			t.Fatalf("newAPIKeySecret() = %q is not well formed", key)
		}
		if pos < 0 {
			pos = -(pos + 1)
		}
		pos %= keyLen
		mut := key[:pos] + string([]byte{c}) + key[pos+1:]
		if got := WellFormedKey(mut); got != (mut == key) {
			t.Fatalf("wellFormedKey(%q) = %v after changing byte %d of %q", mut, got, pos, key)
		}
		// The same for the fuzzed input when it is a valid key.
		if WellFormedKey(k) {
			mut := k[:pos] + string([]byte{c}) + k[pos+1:]
			if got := WellFormedKey(mut); got != (mut == k) {
				t.Fatalf("wellFormedKey(%q) = %v after changing byte %d of %q", mut, got, pos, k)
			}
		}
	})
}
