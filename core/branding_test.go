package core

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/policies"
)

// TestClusterBranding: two nodes on one PostgreSQL database; the logo
// uploaded (about 256 KiB stored as a setting) and the name set on one
// are in force on the other within a second, and so is the removal.
func TestClusterBranding(t *testing.T) {
	a, b, _ := twoClusterNodes(t)
	within := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: not within 1 s", what)
			}
		}
	}
	owner := actorOf(a, mustUser(t, a, "olga", policies.RoleOwner))

	// A noisy image compresses badly: close to the largest logo.
	img := image.NewNRGBA(image.Rect(0, 0, 290, 220))
	x := uint32(1)
	for i := range img.Pix {
		x = x*1664525 + 1013904223
		img.Pix[i] = byte(x >> 24)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < 200<<10 || buf.Len() > MaxLogoBytes {
		t.Fatalf("test image of %d bytes", buf.Len())
	}
	l, err := a.SetBrandLogo(owner, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	within("the logo on the other node", func() bool {
		got := b.BrandLogo()
		return got != nil && got.Version == l.Version && bytes.Equal(got.Data, buf.Bytes())
	})
	if _, err := a.UpdateSettings(context.Background(), owner, []byte(`{"brand_name":" Acme "}`)); err != nil {
		t.Fatal(err)
	}
	within("the name on the other node", func() bool { return b.BrandName() == "Acme" })
	if err := b.RemoveBrandLogo(owner); err != nil {
		t.Fatal(err)
	}
	within("the removal on the first node", func() bool { return a.BrandLogo() == nil })

	// Someone without settings.write changes nothing, even when called
	// past the portal's route check.
	eve := actorOf(a, mustUser(t, a, "eve", policies.RoleUser))
	if _, err := a.SetBrandLogo(eve, buf.Bytes()); err == nil {
		t.Error("a user set the logo")
	}
	if err := a.RemoveBrandLogo(eve); err == nil {
		t.Error("a user removed the logo")
	}
}
