package i18n

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// FormatID is the catalogue ID of a printf format of the service core's
// messages (core.Input's): "core." and the first words of format in lower
// case joined by "_", then "_" and the first 6 hex digits of the SHA-256 of
// the whole format, so that two formats with the same start get two IDs
// and an edited format a new one. The catalogue files
// locales/core.LANG.toml hold them; their values are printf formats with
// the same verbs in the same order.
func FormatID(format string) string {
	var words []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 && len(words) < 4 {
			words = append(words, w.String())
		}
		w.Reset()
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '%' && i+1 < len(format):
			flush()
			i++ // skip the verb
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			w.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			w.WriteByte(c + 'a' - 'A')
		default:
			flush()
		}
	}
	flush()
	sum := sha256.Sum256([]byte(format))
	slug := strings.Join(words, "_")
	if slug == "" {
		slug = "msg"
	}
	return "core." + slug + "_" + hex.EncodeToString(sum[:3])
}
