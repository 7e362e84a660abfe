package portal

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// brandingAPI serves the logo's API, the settings page's branding forms,
// the brand assets and the templates' brand helper (its own type: adminAPI
// is full). The name, accent colour and sign-in message are fields of
// PATCH /api/v1/settings.
type brandingAPI struct{ *Service }

// maxLogoUploadBytes bounds the logo's request bodies: twice the largest
// logo, so a logo a little too large is answered 400 naming the field
// (core.CheckLogo) rather than cut off; beyond this, 413.
const maxLogoUploadBytes = 2 * core.MaxLogoBytes

// logoInfo is the answer of GET and PUT /api/v1/settings/logo.
type logoInfo struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Bytes       int    `json:"bytes"`
	Version     string `json:"version"`
}

func logoInfoOf(l *core.BrandLogo) logoInfo {
	return logoInfo{URL: brandLogoPath + "?v=" + l.Version, ContentType: l.ContentType, Width: l.Width, Height: l.Height,
		Bytes: len(l.Data), Version: l.Version}
}

// apiGetLogo describes the uploaded logo; 404 when there is none.
func (s brandingAPI) apiGetLogo(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		l := s.core.BrandLogo()
		if l == nil {
			return 0, nil, &notFoundMsg{"no logo was uploaded: the built-in one is shown"}
		}
		return http.StatusOK, logoInfoOf(l), nil
	})
}

// apiPutLogo makes the request body (the image file itself) the logo.
func (s brandingAPI) apiPutLogo(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return 0, nil, logoReadError(err)
		}
		l, err := s.core.SetBrandLogo(c, data)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, logoInfoOf(l), nil
	})
}

// apiDeleteLogo goes back to the built-in logo.
func (s brandingAPI) apiDeleteLogo(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		return http.StatusNoContent, nil, s.core.RemoveBrandLogo(c)
	})
}

// logoReadError is the error of a logo upload that could not be read.
func logoReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &bodyTooLargeError{limit: mbe.Limit}
	}
	return core.Input("logo", "could not be read: %v", err)
}

// notFoundMsg is a 404 with its own message.
type notFoundMsg struct{ msg string }

func (e *notFoundMsg) Error() string { return e.msg }
func (e *notFoundMsg) Unwrap() error { return ErrNotFound }

// handleBrandingForm is the settings page's Branding form: the name,
// accent colour and sign-in message, applied as PATCH /api/v1/settings.
func (s brandingAPI) handleBrandingForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	form := map[string]string{"brand_form": "1"}
	for _, k := range []string{"brand_name", "brand_accent", "sign_in_message"} {
		form[k] = f.Get(k)
	}
	raw, err := json.Marshal(map[string]string{"brand_name": form["brand_name"],
		"brand_accent": strings.TrimSpace(form["brand_accent"]), "sign_in_message": form["sign_in_message"]})
	if err == nil {
		_, err = s.core.UpdateSettings(r.Context(), c, raw)
	}
	if err != nil {
		status, msg := s.failMsg(err)
		s.accessUI().renderSettings(w, r, c, status, msg, form)
		return
	}
	s.done(w, r, c, "/admin/settings#branding", s.pages.tr(c, "msg.branding.saved"))
}

// handleLogoForm is the settings page's logo upload (a multipart form).
func (s brandingAPI) handleLogoForm(w http.ResponseWriter, r *http.Request, c *caller) {
	err := core.Input("logo", "is required: choose an image file")
	if r.MultipartForm != nil && len(r.MultipartForm.File["logo"]) == 1 {
		err = s.setLogoFrom(c, r.MultipartForm.File["logo"][0].Open)
	}
	if err != nil {
		status, msg := s.failMsg(err)
		s.accessUI().renderSettings(w, r, c, status, msg, nil)
		return
	}
	s.done(w, r, c, "/admin/settings#branding", s.pages.tr(c, "msg.branding.logo_uploaded"))
}

// setLogoFrom makes the file that open opens the logo.
func (s brandingAPI) setLogoFrom(c *caller, open func() (multipart.File, error)) error {
	f, err := open()
	if err != nil {
		return logoReadError(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, core.MaxLogoBytes+1))
	if err != nil {
		return logoReadError(err)
	}
	_, err = s.core.SetBrandLogo(c, data)
	return err
}

// handleLogoRemove is the settings page's "Use the built-in logo" button.
func (s brandingAPI) handleLogoRemove(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.core.RemoveBrandLogo(c); err != nil {
		s.pageFail(w, r, c, err)
		return
	}
	s.done(w, r, c, "/admin/settings#branding", s.pages.tr(c, "msg.branding.logo_removed"))
}
