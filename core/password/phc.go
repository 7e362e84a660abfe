package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// phcHash is a parsed "$argon2id$v=19$m=…,t=…,p=…$salt$key" string.
type phcHash struct {
	params Params
	salt   []byte
	key    []byte
}

// encode returns h in PHC string format.
func (h phcHash) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.params.Memory, h.params.Time, h.params.Threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePHC parses an argon2id PHC string strictly; any error wraps
// ErrMalformedHash.
func parsePHC(s string) (phcHash, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return phcHash{}, fmt.Errorf("%w: want 5 fields separated by $", ErrMalformedHash)
	}
	if fields[1] != "argon2id" {
		return phcHash{}, fmt.Errorf("%w: algorithm %q, want argon2id", ErrMalformedHash, fields[1])
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return phcHash{}, fmt.Errorf("%w: version %q, want v=%d", ErrMalformedHash, fields[2], argon2.Version)
	}
	var h phcHash
	m, t, p, ok := parseCosts(fields[3])
	if !ok {
		return phcHash{}, fmt.Errorf("%w: parameters %q, want m=…,t=…,p=…", ErrMalformedHash, fields[3])
	}
	salt, err := b64.DecodeString(fields[4])
	if err != nil {
		return phcHash{}, fmt.Errorf("%w: salt: %v", ErrMalformedHash, err)
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil {
		return phcHash{}, fmt.Errorf("%w: key: %v", ErrMalformedHash, err)
	}
	h.params = Params{Memory: m, Time: t, Threads: p, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := h.params.validate(); err != nil {
		return phcHash{}, fmt.Errorf("%w: %v", ErrMalformedHash, err)
	}
	h.salt, h.key = salt, key
	return h, nil
}

// parseCosts parses "m=<uint32>,t=<uint32>,p=<uint8>", in that order.
func parseCosts(s string) (m, t uint32, p uint8, ok bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(parts[i], name)
		if !found || v == "" || (len(v) > 1 && v[0] == '0') {
			return 0, 0, 0, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, 0, 0, false
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return 0, 0, 0, false
	}
	return uint32(vals[0]), uint32(vals[1]), uint8(vals[2]), true
}
