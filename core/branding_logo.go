package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"github.com/gatehouse-auth/gatehouse/policies"
	"github.com/gatehouse-auth/gatehouse/store"
)

// The brand logo is an uploaded PNG, JPEG or WebP image, kept in the
// store as a setting (brandLogoKey) and cached in the core; the portal
// serves it under a URL that names its Version, so browsers may keep it.
// SVG is refused: an SVG is a document that may carry script.

// Limits of an uploaded logo.
const (
	// MaxLogoBytes is the largest logo accepted.
	MaxLogoBytes = 256 << 10
	// MaxLogoSide is the largest width and height accepted, in pixels.
	MaxLogoSide = 2048
)

// brandLogoKey names the stored logo.
const brandLogoKey = "brand_logo"

// The audit actions of the logo.
const (
	actionLogoUpload = "settings.logo.upload"
	actionLogoRemove = "settings.logo.remove"
)

// BrandLogo is the uploaded logo.
type BrandLogo struct {
	// ContentType is image/png, image/jpeg or image/webp, from the content.
	ContentType string `json:"content_type"`
	// Data is the image as uploaded; empty when the logo was removed.
	Data []byte `json:"data,omitempty"`
	// Width and Height are the image's size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Version is a hash of Data: it changes with every new image.
	Version string `json:"version"`
}

// loadBrandLogo reads the stored logo into the cache.
func (c *Core) loadBrandLogo() error {
	var l BrandLogo
	err := c.store.Setting(brandLogoKey, &l)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.logo.Store(nil)
	case err != nil:
		return fmt.Errorf("core: load the logo: %w", err)
	case len(l.Data) == 0:
		c.logo.Store(nil)
	default:
		c.logo.Store(&l)
	}
	return nil
}

// BrandLogo returns the uploaded logo, or nil when there is none (the
// built-in one is shown). The caller must not change it.
func (c *Core) BrandLogo() *BrandLogo { return c.logo.Load() }

// SetBrandLogo checks data (see CheckLogo) and makes it the logo. The
// actor needs settings.write.
func (c *Core) SetBrandLogo(a *Actor, data []byte) (*BrandLogo, error) {
	if !a.Can(policies.PermSettingsWrite) {
		return nil, ErrForbidden
	}
	l, err := CheckLogo(data)
	if err != nil {
		return nil, err
	}
	if err := c.store.PutSetting(brandLogoKey, l); err != nil {
		return nil, fmt.Errorf("core: store the logo: %w", err)
	}
	c.logo.Store(l)
	c.Audit(a, store.Event{Actor: a.User.Username, Action: actionLogoUpload, Resource: "settings", Outcome: OutcomeSuccess,
		Reason: fmt.Sprintf("%s, %d×%d pixels, %d bytes, version %s", l.ContentType, l.Width, l.Height, len(l.Data), l.Version)})
	return l, nil
}

// RemoveBrandLogo goes back to the built-in logo. The actor needs
// settings.write.
func (c *Core) RemoveBrandLogo(a *Actor) error {
	if !a.Can(policies.PermSettingsWrite) {
		return ErrForbidden
	}
	if err := c.store.PutSetting(brandLogoKey, BrandLogo{}); err != nil {
		return fmt.Errorf("core: remove the logo: %w", err)
	}
	had := c.logo.Swap(nil) != nil
	reason := "back to the built-in logo"
	if !had {
		reason = "there was no uploaded logo"
	}
	c.Audit(a, store.Event{Actor: a.User.Username, Action: actionLogoRemove, Resource: "settings", Outcome: OutcomeSuccess, Reason: reason})
	return nil
}

// logoFormats are the accepted image types, by the bytes they start with.
var logoFormats = []struct {
	contentType string
	match       func([]byte) bool
	decode      func(io.Reader) (image.Image, error)
	config      func(io.Reader) (image.Config, error)
}{
	{"image/png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.Decode, png.DecodeConfig},
	{"image/jpeg", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) }, jpeg.Decode, jpeg.DecodeConfig},
	{"image/webp", func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	}, webp.Decode, webp.DecodeConfig},
}

// CheckLogo returns data as a logo when it is a whole PNG, JPEG or WebP
// image (recognised by its content, whatever it is called) of at most
// MaxLogoBytes and MaxLogoSide pixels a side; else an *InputError about
// the field "logo".
func CheckLogo(data []byte) (*BrandLogo, error) {
	if len(data) == 0 {
		return nil, Input("logo", "is empty: send the image file")
	}
	if len(data) > MaxLogoBytes {
		return nil, Input("logo", "is too large: %d KiB at most", MaxLogoBytes>>10)
	}
	for _, f := range logoFormats {
		if !f.match(data) {
			continue
		}
		cfg, err := f.config(bytes.NewReader(data))
		if err != nil {
			return nil, Input("logo", "is not a readable %s image: %v", f.contentType, err)
		}
		if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
			return nil, Input("logo", "is %d×%d pixels; at most %d×%d are allowed", cfg.Width, cfg.Height, MaxLogoSide, MaxLogoSide)
		}
		// Decode it all: a truncated or corrupt image is refused now
		// rather than shown broken.
		if _, err := f.decode(bytes.NewReader(data)); err != nil {
			return nil, Input("logo", "is not a whole %s image: %v", f.contentType, err)
		}
		sum := sha256.Sum256(data)
		return &BrandLogo{ContentType: f.contentType, Data: bytes.Clone(data), Width: cfg.Width, Height: cfg.Height,
			Version: hex.EncodeToString(sum[:8])}, nil
	}
	return nil, Input("logo", "must be a PNG, JPEG or WebP image (SVG and other types are not accepted)")
}
