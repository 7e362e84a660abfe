package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

func (s adminAPI) apiListAudit(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		f, after, limit, err := auditQuery(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.core.ListAudit(f, after, limit)
		return http.StatusOK, list[*store.Event]{Items: items, Next: next}, err
	})
}
