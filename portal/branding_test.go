package portal

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/core"
)

// TestBrandCSSContrast: for accents across the hues, at the darkest and
// lightest the settings accept, the generated stylesheet keeps white text
// on the light accent at 4.5:1 and dark text on the dark accent at 7:1,
// and the dark accent keeps the hue (it is not a grey).
func TestBrandCSSContrast(t *testing.T) {
	prop := regexp.MustCompile(`--(accent|accent-text|accent-soft|accent-soft-text): (#[0-9a-f]{6});`)
	for _, accent := range []string{"#0b6e4f", "#4f46e5", "#b91c1c", "#767676", "#000000", "#0000ff", "#c2410c", "#7e22ce", "#0e7490", "#a16207"} {
		rgb, _ := core.ParseHexColor(accent)
		css := brandCSS(rgb)
		light, dark, _ := strings.Cut(css, "@media (prefers-color-scheme: dark)")
		for _, part := range []struct {
			name, css   string
			onAccent    float64
			wantDiffers bool
		}{{"light", light, 4.5, false}, {"dark", dark, 7, true}} {
			v := map[string][3]uint8{}
			for _, m := range prop.FindAllStringSubmatch(part.css, -1) {
				c, _ := core.ParseHexColor(m[2])
				v[m[1]] = c
			}
			if len(v) != 4 && !(part.name == "dark" && len(v) == 3) {
				t.Fatalf("%s %s: properties %v in\n%s", accent, part.name, v, css)
			}
			if c := core.ContrastRatio(v["accent"], v["accent-text"]); c < part.onAccent {
				t.Errorf("%s %s: text on the accent %.2f:1", accent, part.name, c)
			}
			if part.name == "light" {
				if v["accent"] != rgb {
					t.Errorf("%s: light accent %v", accent, v["accent"])
				}
				if c := core.ContrastRatio(v["accent-soft"], v["accent-soft-text"]); c < 7 {
					t.Errorf("%s: soft badge text %.2f:1", accent, c)
				}
			}
			if part.name == "dark" && rgb[0] != rgb[1] && v["accent"][0] == v["accent"][1] && v["accent"][1] == v["accent"][2] {
				t.Errorf("%s: the dark accent %v lost its hue", accent, v["accent"])
			}
		}
	}
}
