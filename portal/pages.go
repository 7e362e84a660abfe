package portal

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/store"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// pageNames are the templates under web/templates, each parsed with
// layout.html into its own set.
var pageNames = []string{"login", "setup", "home", "logout", "error"}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.ParseFS(webFS, "web/templates/layout.html", "web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// staticFS is served under /assets/.
func staticFS() http.FileSystem {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return http.FS(sub)
}

// page is the data every template receives.
type page struct {
	Title         string
	User          *pageUser
	Flash         string
	Error         string
	Form          map[string]string
	Apps          []pageApp
	PasswordRules string
	Status        int
	Message       string
}

type pageUser struct {
	Username, FullName, Email, Role string
	Groups                          []string
}

type pageApp struct{ Name, Title, URL string }

func pageUserOf(u *store.User) *pageUser {
	if u == nil {
		return nil
	}
	return &pageUser{Username: u.Username, FullName: u.FullName, Email: u.Email, Role: u.Role, Groups: u.Groups}
}

// render executes page name into a buffer first, so a template error never
// sends half a page.
func (s *Service) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	setPageSecurityHeaders(h)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Service) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string, u *store.User) {
	s.render(w, status, "error", page{Title: title, Status: status, Message: msg, User: pageUserOf(u)})
}
