package portal

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
	"github.com/gatehouse-auth/gatehouse/store"
)

func (s adminAPI) apiExportUsers(w http.ResponseWriter, r *http.Request) {
	c := routeCaller(r.Context())
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		writeJSONError(w, http.StatusBadRequest, "format: must be csv or json")
		return
	}
	var buf bytes.Buffer
	if err := s.core.Users.ExportUsers(&buf, format); err != nil {
		s.writeAPIError(w, err)
		return
	}
	ct := "text/csv; charset=utf-8"
	if format == "json" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-users.`+format+`"`)
	s.core.Audit(s.requestActor(r), store.Event{Actor: c.User.Username, Action: "user.export", Resource: "users", Outcome: outcomeSuccess, Reason: format})
	_, _ = w.Write(buf.Bytes())
}

func (s adminAPI) apiImportUsers(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			if bodyErrorStatus(err) == http.StatusRequestEntityTooLarge {
				return 0, nil, &bodyTooLargeError{limit: maxImportBytes}
			}
			return 0, nil, inputErr("", "the import could not be read")
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
				format = "json"
			} else if strings.HasPrefix(ct, "text/csv") {
				format = "csv"
			}
		}
		rows, base, err := core.ParseImport(data, format)
		if err != nil {
			return 0, nil, err
		}
		dry := r.URL.Query().Get("dry_run")
		res, err := s.core.Users.ImportRows(r.Context(), c, rows, base, dry == "1" || dry == "true")
		if err != nil {
			return 0, nil, err
		}
		switch {
		case len(res.Problems) > 0:
			return http.StatusBadRequest, res, nil
		case res.DryRun:
			return http.StatusOK, res, nil
		}
		return http.StatusCreated, res, nil
	})
}
