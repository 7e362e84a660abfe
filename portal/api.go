package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONError writes {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// bodyTooLargeError is a request body over the portal's size limit; it is
// answered with 413 Request Entity Too Large.
type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("request body larger than %d bytes", e.limit)
}

// bodyErrorStatus is the status for an error reading a request body: 413
// when it was too large, else 400.
func bodyErrorStatus(err error) int {
	var tl *bodyTooLargeError
	var mbe *http.MaxBytesError
	if errors.As(err, &tl) || errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// decodeJSON reads a JSON body into v. It refuses other content types (so
// an HTML form on another site cannot post to the API), unknown fields and
// trailing data, and says what is wrong.
func decodeJSON(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errors.New("request body must be JSON (Content-Type: application/json)")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return &bodyTooLargeError{limit: mbe.Limit}
		case errors.As(err, &se):
			return fmt.Errorf("malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return fmt.Errorf("field %q must be a %s", te.Field, te.Type)
		default:
			return fmt.Errorf("bad JSON body: %v", err)
		}
	}
	// More is false before a stray "}" or "]", so look for the end instead.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("bad JSON body: unexpected data after the object")
	}
	return nil
}

// list is the shape of every collection answer.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// apiDo runs one API call of a route declared with s.api (routeaccess.go),
// which has resolved the caller and checked the permission: it runs fn
// with that caller and writes its answer or its error.
func (s *Service) apiDo(w http.ResponseWriter, r *http.Request, fn func(c *caller) (int, any, error)) {
	c := routeCaller(r.Context())
	if c == nil {
		s.log.Error("portal route declares no access", "path", r.URL.Path)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	status, v, err := fn(c)
	switch {
	case err != nil:
		s.writeAPIError(w, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}

// decode is decodeJSON as an InputError.
func decode(r *http.Request, v any) error {
	if err := decodeJSON(r, v); err != nil {
		if bodyErrorStatus(err) == http.StatusRequestEntityTooLarge {
			return err
		}
		return &InputError{Msg: err.Error()}
	}
	return nil
}
