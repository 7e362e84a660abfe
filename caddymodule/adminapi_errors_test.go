package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/portal"
	"github.com/gatehouse-auth/gatehouse/store"
)

// TestAdminAPIErrorStatus: the admin API (the CLI's way in) answers a
// service error with the same status as the JSON API, through the
// portal's one error table, and never with internal text. Before, "not
// found" and "forbidden" came out as 500 with the error's own text.
func TestAdminAPIErrorStatus(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := portal.New(portal.Options{Store: st, PortalURL: &url.URL{Scheme: "http", Host: "auth.test"}})
	if err != nil {
		t.Fatal(err)
	}
	a := &adminAPI{app: &App{service: svc}}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("no user %q: %w", "bob", portal.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("%w: only owners can do this", portal.ErrForbidden), http.StatusForbidden},
		{fmt.Errorf("the username %q is already taken: %w", "bob", portal.ErrConflict), http.StatusConflict},
		{portal.ErrBusy, http.StatusServiceUnavailable},
		{&portal.InputError{Field: "username", Msg: "is required"}, http.StatusBadRequest},
		{errors.New("store: badger: value log truncated at /var/lib/secret"), http.StatusInternalServerError},
	} {
		var ae caddy.APIError
		if !errors.As(a.adminError(tc.err), &ae) || ae.HTTPStatus != tc.want {
			t.Errorf("%v: %+v, want status %d", tc.err, ae, tc.want)
			continue
		}
		if tc.want == http.StatusInternalServerError && ae.Err.Error() != "internal error" {
			t.Errorf("an internal error is shown as %q", ae.Err)
		}
	}
}
