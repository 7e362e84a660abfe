package store

import (
	"encoding/json"
	"fmt"
)

// recordVersion is the format version written as the first byte of every
// record value. Decoders refuse versions they do not know, so a newer
// database is never misread by an older binary.
const recordVersion = 1

// encode serialises v as one version byte followed by JSON.
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode %T: %w", v, err)
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, recordVersion)
	return append(out, b...), nil
}

// decode parses a value written by encode into v.
func decode(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("store: decode %T: empty record", v)
	}
	switch b[0] {
	case 1:
		if err := json.Unmarshal(b[1:], v); err != nil {
			return fmt.Errorf("store: decode %T: %w", v, err)
		}
		return nil
	default:
		return fmt.Errorf("store: decode %T: unknown record version %d", v, b[0])
	}
}
