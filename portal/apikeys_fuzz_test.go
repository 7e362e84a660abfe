package portal

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
)

// FuzzBearerKey checks that bearerKey returns either "" or a trimmed
// string with the key prefix taken from an Authorization header of the
// form "Bearer <key>" (scheme case-insensitive).
func FuzzBearerKey(f *testing.F) {
	valid := core.KeyPrefix + "0123456789abcdefghijABCDEFGHIJ0123456789"
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
			if len(v) >= 7 && strings.EqualFold(v[:7], "bearer ") && core.WellFormedKey(strings.TrimSpace(v[7:])) {
				t.Fatalf("bearerKey missed the key in %q", v)
			}
			return
		}
		got := h.Get("Authorization")
		if len(got) < 7 || !strings.EqualFold(got[:7], "bearer ") {
			t.Fatalf("bearerKey(%q) = %q without a bearer scheme", got, k)
		}
		if !strings.HasPrefix(k, core.KeyPrefix) {
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
