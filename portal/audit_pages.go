package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

// Audit log.

// auditData is the content of /admin/audit.
type auditData struct {
	Events                     []*store.Event
	User, Action, Since, Until string
	NextURL, FirstURL          string
	Filtered                   bool
}

// handleAudit lists audit events with the filters of GET /api/v1/audit.
func (s accessUI) handleAudit(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	p := s.basePage(w, r, c, s.pages.tr(c, "nav.audit"), "audit")
	d := auditData{User: q.Get("user"), Action: q.Get("action"), Since: q.Get("since"), Until: q.Get("until")}
	d.Filtered = d.User != "" || d.Action != "" || d.Since != "" || d.Until != ""
	status := http.StatusOK
	f, after, limit, err := auditQuery(q)
	if err == nil {
		var next string
		d.Events, next, err = s.core.ListAudit(f, after, limit)
		if next != "" {
			d.NextURL = pageURL("/admin/audit", q, next)
		}
	}
	if err != nil {
		status, p.Error = s.failMsg(err)
	}
	if after != "" {
		d.FirstURL = pageURL("/admin/audit", q, "")
	}
	p.Data = d
	s.render(w, r, status, "audit", p)
}
