package portal

import (
	"net/http"
	"net/url"

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
func (s *Service) handleAudit(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	p := s.basePage(w, r, c, "Audit log", "audit")
	d := auditData{User: q.Get("user"), Action: q.Get("action"), Since: q.Get("since"), Until: q.Get("until")}
	d.Filtered = d.User != "" || d.Action != "" || d.Since != "" || d.Until != ""
	status := http.StatusOK
	f, after, limit, err := auditQuery(q)
	if err == nil {
		var next string
		d.Events, next, err = s.listAudit(f, after, limit)
		if next != "" {
			nq := url.Values{}
			for k, v := range q {
				nq[k] = v
			}
			nq.Set("after", next)
			d.NextURL = "/admin/audit?" + nq.Encode()
		}
	}
	if err != nil {
		status, p.Error = s.failMsg(err)
	}
	if after != "" {
		fq := url.Values{}
		for k, v := range q {
			if k != "after" {
				fq[k] = v
			}
		}
		d.FirstURL = "/admin/audit"
		if len(fq) > 0 {
			d.FirstURL += "?" + fq.Encode()
		}
	}
	p.Data = d
	s.render(w, status, "audit", p)
}
