package nginxtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStartProxies: a started nginx answers on its URL and proxies to a
// backend with a header of its configuration, and is gone after Stop.
func TestStartProxies(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "backend saw "+r.Header.Get("X-From-Nginx"))
	}))
	defer backend.Close()
	s := Start(t, Options{Config: `
server {
	listen {listen};
	location / {
		proxy_set_header X-From-Nginx "{dir}";
		proxy_pass ` + backend.URL + `;
	}
}
`})
	resp, err := http.Get(s.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "backend saw "+s.Dir) {
		t.Fatalf("%d %s\n%s", resp.StatusCode, b, s.ErrorLog())
	}
	s.Stop()
	if _, err := http.Get(s.URL + "/x"); err == nil {
		t.Fatal("nginx still answers after Stop")
	}
}
