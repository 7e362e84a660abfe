package portal

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/core"
)

// importData is the content of /admin/users/import.
type importData struct {
	Result *ImportResult
}

func (s usersUI) handleImportPage(w http.ResponseWriter, r *http.Request, c *caller) {
	s.renderImport(w, r, c, http.StatusOK, "", map[string]string{"dry_run": "1"}, nil)
}

func (s usersUI) renderImport(w http.ResponseWriter, r *http.Request, c *caller, status int, errMsg string, form map[string]string, res *ImportResult) {
	p := s.basePage(w, r, c, s.pages.tr(c, "user_import.import_users"), "users")
	p.Error, p.Form = errMsg, form
	p.Data = importData{Result: res}
	s.render(w, r, status, "user_import", p)
}

// handleImportForm imports users from an uploaded file or pasted text, as
// POST /api/v1/users/import does.
func (s usersUI) handleImportForm(w http.ResponseWriter, r *http.Request, c *caller) {
	f := r.PostForm
	format, dry := f.Get("format"), f.Get("dry_run") != ""
	form := map[string]string{"format": format, "data": f.Get("data")}
	if dry {
		form["dry_run"] = "1"
	}
	var data []byte
	if file, hdr, err := r.FormFile("file"); err == nil {
		data, err = io.ReadAll(file)
		_ = file.Close()
		if err != nil {
			s.renderImport(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.importexport.the_file_could_not"), form, nil)
			return
		}
		if format == "" {
			switch name := strings.ToLower(hdr.Filename); {
			case strings.HasSuffix(name, ".json"):
				format = "json"
			case strings.HasSuffix(name, ".csv"):
				format = "csv"
			}
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte(f.Get("data"))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		s.renderImport(w, r, c, http.StatusBadRequest, s.pages.tr(c, "msg.importexport.choose_a_file_or"), form, nil)
		return
	}
	rows, base, err := core.ParseImport(data, format)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderImport(w, r, c, status, msg, form, nil)
		return
	}
	res, err := s.core.Users.ImportRows(r.Context(), c, rows, base, dry)
	if err != nil {
		status, msg := s.failMsg(err)
		s.renderImport(w, r, c, status, msg, form, &res)
		return
	}
	status := http.StatusOK
	switch {
	case len(res.Problems) > 0:
		status = http.StatusBadRequest
		p := "problems"
		if len(res.Problems) == 1 {
			p = "problem"
		}
		s.renderImport(w, r, c, status, "Nothing was imported: the file has "+strconv.Itoa(len(res.Problems))+" "+p+".", form, &res)
		return
	case !res.DryRun:
		form["data"] = ""
	}
	s.renderImport(w, r, c, status, "", form, &res)
}
