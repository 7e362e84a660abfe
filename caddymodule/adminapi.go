package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-auth/gatehouse/portal"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves Gatehouse's routes on Caddy's admin endpoint (localhost
// only by default), used by the `caddy gatehouse` CLI:
//
//	GET  /gatehouse/users?after=&limit=  {"items": [...], "next": ""}
//	POST /gatehouse/users                 create a user (201)
//	GET  /gatehouse/users/export?format=csv|json
//	POST /gatehouse/users/import?format=&dry_run=1   (200 with the report;
//	     "problems" not empty means nothing was imported)
//	POST /gatehouse/owner-login           {"username": ""} (optional body)
//	     → {"link", "expires_at"}: a one-time owner recovery link
//	GET  /gatehouse/backup                a full database backup
//	     (application/octet-stream; see store.Store.Backup)
//	POST /gatehouse/directory/sync        synchronise with the external
//	     directory → the report (core.SyncReport)
type adminAPI struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.gatehouse",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Provision finds the gatehouse app of the config being loaded, if any.
func (a *adminAPI) Provision(ctx caddy.Context) error {
	if v, err := ctx.AppIfConfigured("gatehouse"); err == nil {
		a.app = v.(*App)
	}
	return nil
}

// Routes returns the admin routes.
func (a *adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/gatehouse/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

func (a *adminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	if a.app == nil || a.app.Service() == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("gatehouse is not configured in the running config")}
	}
	switch r.URL.Path {
	case "/gatehouse/users":
		switch r.Method {
		case http.MethodGet:
			return a.listUsers(w, r)
		case http.MethodPost:
			return a.addUser(w, r)
		}
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	case "/gatehouse/users/export":
		if r.Method != http.MethodGet {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
		}
		return a.exportUsers(w, r)
	case "/gatehouse/users/import":
		if r.Method != http.MethodPost {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
		}
		return a.importUsers(w, r)
	case "/gatehouse/owner-login":
		if r.Method != http.MethodPost {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
		}
		return a.ownerLogin(w, r)
	case "/gatehouse/directory/sync":
		if r.Method != http.MethodPost {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
		}
		return a.directorySync(w, r)
	case "/gatehouse/oidc/rotate-keys":
		if r.Method != http.MethodPost {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
		}
		return a.oidcRotateKeys(w, r)
	case "/gatehouse/backup":
		if r.Method != http.MethodGet {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
		}
		return a.backup(w)
	}
	return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no gatehouse admin route %s", r.URL.Path)}
}

func (a *adminAPI) listUsers(w http.ResponseWriter, r *http.Request) error {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	items, next, err := a.app.Service().Core().Users.ListUsers(r.URL.Query().Get("after"), limit)
	if err != nil {
		return a.adminError(err)
	}
	return writeAdminJSON(w, http.StatusOK, map[string]any{"items": items, "next": next})
}

func (a *adminAPI) addUser(w http.ResponseWriter, r *http.Request) error {
	var nu portal.NewUser
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nu); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("bad JSON body: %v", err)}
	}
	u, err := a.app.Service().Core().Users.CreateUserView(r.Context(), a.app.Service().CLIActor(clientIP(r), r.UserAgent()), nu)
	if err != nil {
		return a.adminError(err)
	}
	return writeAdminJSON(w, http.StatusCreated, u)
}

// adminError maps a service error to an admin-API error through the
// portal's one error table (portal.Service.ErrorStatus), so the CLI gets
// the same 400/403/404/409/503 as the JSON API, and no internal text.
func (a *adminAPI) adminError(err error) error {
	status, msg := a.app.Service().ErrorStatus(err)
	return caddy.APIError{HTTPStatus: status, Err: errors.New(msg)}
}

func (a *adminAPI) exportUsers(w http.ResponseWriter, r *http.Request) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	var buf bytes.Buffer
	if err := a.app.Service().Core().Users.ExportUsers(&buf, format); err != nil {
		return a.adminError(err)
	}
	if format == "json" {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (a *adminAPI) importUsers(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("read import: %v", err)}
	}
	q := r.URL.Query()
	res, err := a.app.Service().Core().Users.ImportUsers(r.Context(), a.app.Service().CLIActor(clientIP(r), r.UserAgent()), data, q.Get("format"), q.Get("dry_run") == "1")
	if err != nil {
		return a.adminError(err)
	}
	return writeAdminJSON(w, http.StatusOK, res)
}

// ownerLoginRequest is the optional body of POST /gatehouse/owner-login.
type ownerLoginRequest struct {
	// Username names the owner; empty: the first active owner.
	Username string `json:"username"`
}

// ownerLoginResponse is the answer of POST /gatehouse/owner-login.
type ownerLoginResponse struct {
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ownerLogin makes a one-time owner recovery link (see
// portal.Service.OwnerLoginLink). The body is optional.
func (a *adminAPI) ownerLogin(w http.ResponseWriter, r *http.Request) error {
	var req ownerLoginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("bad JSON body: %v", err)}
	}
	// Taken before the link is made, so the expiry shown is never later
	// than the real one.
	expires := time.Now().Add(portal.OwnerLoginLifetime).UTC().Truncate(time.Second)
	link, err := a.app.Service().OwnerLoginLink(r.Context(), a.app.Service().CLIActor(clientIP(r), r.UserAgent()), req.Username)
	if err != nil {
		return a.adminError(err)
	}
	return writeAdminJSON(w, http.StatusOK, ownerLoginResponse{Link: link, ExpiresAt: expires})
}

// backup streams a full backup of the running store. A failure after the
// first byte aborts the connection, so the client sees a truncated
// transfer rather than a short file that looks complete.
func (a *adminAPI) backup(w http.ResponseWriter) error {
	st := a.app.store
	if st == nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("gatehouse store is not open")}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse.backup"`)
	cw := &countingWriter{w: w}
	if _, err := st.Backup(cw); err != nil {
		if cw.n == 0 {
			w.Header().Del("Content-Type")
			w.Header().Del("Content-Disposition")
			return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("backup: %w", err)}
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// Interface guards.
var (
	_ caddy.AdminRouter = (*adminAPI)(nil)
	_ caddy.Provisioner = (*adminAPI)(nil)
)
