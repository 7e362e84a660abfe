package portal

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/store"
)

// auditQuery reads the filters of the audit page and GET /api/v1/audit:
// user, action (a prefix when it ends in "."), since and until (dates or
// RFC 3339 times), after (the cursor) and limit.
func auditQuery(q url.Values) (f store.AuditFilter, after string, limit int, err error) {
	f.User = strings.TrimSpace(q.Get("user"))
	f.Action = strings.TrimSpace(q.Get("action"))
	if f.Since, err = parseTimeParam("since", q.Get("since"), false); err != nil {
		return
	}
	if f.Until, err = parseTimeParam("until", q.Get("until"), true); err != nil {
		return
	}
	limit, err = limitParam(q)
	return f, q.Get("after"), limit, err
}

// parseTimeParam reads an RFC 3339 time or a date; a date as an upper bound
// means the end of that day (UTC).
func parseTimeParam(name, v string, upper bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, inputErr(name, "%q is not a date (YYYY-MM-DD) or an RFC 3339 time", v)
	}
	if upper {
		t = t.Add(24 * time.Hour)
	}
	return t, nil
}

// limitParam reads ?limit= (1–500, default 50).
func limitParam(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, inputErr("limit", "must be a number from 1 to 500")
	}
	return n, nil
}
