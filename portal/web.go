package portal

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

// currentUser returns the signed-in user of a portal request, or nil.
func (s *Service) currentUser(r *http.Request) (*store.User, resolution) {
	now := s.now()
	si, res := s.resolve(r.Header, now)
	if res != resolvedOK {
		return nil, res
	}
	return s.wholeUser(si, now)
}

func (s *Service) handleHome(w http.ResponseWriter, r *http.Request) {
	c := s.pageCaller(w, r, "", false)
	if c == nil {
		return
	}
	p := s.basePage(w, r, c, s.pages.lang(r.Header, nil).S("nav.home"), "home")
	for _, a := range s.core.Access.AppsFor(c.User) {
		p.Apps = append(p.Apps, pageApp{Name: a.Name, Title: a.Title, URL: a.URL})
	}
	s.render(w, r, http.StatusOK, "home", p)
}

func (s *Service) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	u, _ := s.currentUser(r)
	s.renderError(w, r, http.StatusNotFound, s.pages.lang(r.Header, nil).S("msg.web.page_not_found"), s.pages.lang(r.Header, nil).S("msg.web.there_is_nothing_at"), u)
}
